"""Hostile downloads, with the real curl against loopback https servers: a feed that trickles, one that
never ends, one that is too large, one that redirects to another host listing a tampered archive's MD5,
a feed entry on another host, and an archive whose bytes are not the ones the site first verified.
Each is refused within its limits (small ones here, the same flags as in production), and the node is
left as it was: nothing unpacked, nothing stopped.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import ssl
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Union

import pytest
import trustme

from components.host_files import STAGING_DIR, InstallSpec, StagedFile
from components.host_files.specs import (
    ARCHIVE_LIMITS,
    FEED_LIMITS,
    INSTALL_ROOT,
    VENDOR_CHECKSUM_FEEDS,
    DownloadLimits,
)
from providers.archive_trust import reported_sha256

from .shims import calls
from .test_install_downloads import _real_curl
from .test_install_script import CURRENT, VOLUME, Host, feed_entry

# Small limits, so that each refusal is seen within seconds; production's are checked below.
FEED = DownloadLimits(max_bytes=64 * 1024, max_s=20, connect_s=2, floor_bytes_per_s=1000, floor_s=2, retries=0)
ARCHIVE = DownloadLimits(max_bytes=1024 * 1024, max_s=20, connect_s=2, floor_bytes_per_s=1000, floor_s=2)
NAME = "atlassian-bitbucket-9.4.16.tar.gz"
Answer = Union[bytes, Callable[[BaseHTTPRequestHandler], None]]


def redirect(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def stream(chunk: bytes, every_s: float, length: int = 0) -> Callable[[BaseHTTPRequestHandler], None]:
    """`chunk` every `every_s` seconds until the client goes; `length` announced when not 0."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if length:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        try:
            while True:
                handler.wfile.write(chunk)
                handler.wfile.flush()
                if every_s:
                    time.sleep(every_s)
        except OSError:
            pass  # the client gave up: what is tested

    return answer


class Loopback:
    """One https server on 127.0.0.1 whose certificate also names `localhost`: the same server reached by
    another host name, i.e. another origin. Every request is recorded with the host it was sent to."""

    def __init__(self, tmp: Path):
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, str]] = []  # (Host header, path)
        ca = trustme.CA()
        self.ca_file = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                loopback.requests.append(((self.headers.get("Host") or "").split(":")[0], self.path))
                found = loopback.answers.get(self.path)
                if callable(found):
                    found(self)
                    return
                self.send_response(200 if found is not None else 404)
                self.send_header("Content-Length", str(len(found or b"")))
                self.end_headers()
                self.wfile.write(found or b"")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{port}"
        self.other = f"https://localhost:{port}"  # the same server, another host

    def asked(self, path: str) -> list[str]:
        """The hosts a request for `path` went to."""
        return [host for host, p in self.requests if p == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def loopback(tmp_path):
    server = Loopback(tmp_path)
    yield server
    server.close()


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


def tampered(version: str = "9.4.16") -> bytes:
    """An archive with the right name and layout, and other bytes."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        script = b"#!/bin/sh\necho tampered\n"
        info = tarfile.TarInfo(f"atlassian-bitbucket-{version}/bin/start-bitbucket.sh")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return data.getvalue()


def _feed(*entries: dict) -> bytes:
    import json

    return json.dumps(list(entries)).encode()


def stage(host: Host, loopback: Loopback, archive: bytes, **spec: object) -> Path:
    """The node's install script, with the vendor's feeds at /feeds/current.json and /feeds/archived.json
    of the loopback server and the archive at /archive/<name>, which serves `archive`."""
    loopback.answers[f"/archive/{NAME}"] = archive
    settings = {"installer_url": f"{loopback.url}/archive/{NAME}", "feed_limits": FEED, "archive_limits": ARCHIVE}
    host.stage(InstallSpec("9.4.16", VOLUME, "acm", **{**settings, **spec}))  # type: ignore[arg-type]
    script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
    text = script.read_text()
    for feed, path in zip(VENDOR_CHECKSUM_FEEDS, ("/feeds/current.json", "/feeds/archived.json")):
        text = text.replace(feed, loopback.url + path)
    script.write_text(text)
    return script


def run(host: Host, loopback: Loopback, *args: str) -> tuple[object, float]:
    started = time.monotonic()
    result = host.run(*args, **_real_curl(host, loopback))  # type: ignore[arg-type]
    return result, time.monotonic() - started


def assert_nothing_installed(host: Host) -> None:
    assert not host.path(CURRENT).exists() and not host.path("/opt/atlassian/bitbucket/9.4.16").exists()
    downloads = host.path("/opt/atlassian/bitbucket/downloads")
    assert not downloads.exists() or list(downloads.iterdir()) == []  # no part left behind
    assert not [c for c in calls(host.log, "systemctl") if c.split()[1] in ("stop", "restart", "start")]


# --- the limits --------------------------------------------------------------------------------


def test_production_limits_are_sized_for_a_bitbucket_archive_and_a_feed():
    # The vendor's feeds list the 9.x archives at about 541 MB: room for about twice that, no more.
    assert 1.9 * 541_700_000 <= ARCHIVE_LIMITS.max_bytes <= 2 * 1024**3
    assert FEED_LIMITS.max_bytes >= 8 * 1_102_905  # the archived feed is 1.1 MB (EpicMorg copy)
    assert FEED_LIMITS.max_bytes < 400 * 1024 * 1024  # the 400 MiB feed of issue #30 is refused
    for limits in (ARCHIVE_LIMITS, FEED_LIMITS):
        assert limits.connect_s <= 30 and limits.floor_s <= 60 and limits.floor_bytes_per_s >= 1024
        assert limits.max_s <= 3600
    # A byte every 10 s (issue #30's trickle) is below the floor.
    assert 0.1 * FEED_LIMITS.floor_s < FEED_LIMITS.floor_bytes_per_s * FEED_LIMITS.floor_s


def test_a_trickling_feed_is_dropped_at_the_speed_floor_and_nothing_is_downloaded(host, loopback):
    stage(host, loopback, host.archive("9.4.16").read_bytes())
    for path in ("/feeds/current.json", "/feeds/archived.json"):
        loopback.answers[path] = stream(b"[", 1.0, length=10_000)  # a byte a second, 10 KB announced
    result, took = run(host, loopback)
    assert result.returncode != 0
    assert "slower than 1000 bytes/s for 2 s" in result.stderr and "no checksum to verify" in result.stderr
    # Each feed within about its floor (2 s), far from its 20 s total: the floor did it.
    assert took < 12, took
    assert loopback.asked(f"/archive/{NAME}") == []
    assert_nothing_installed(host)


def test_a_host_that_never_answers_the_handshake_is_dropped_at_the_connect_timeout(host, tmp_path):
    # A port that takes the TCP connection and never says a word of TLS.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"https://127.0.0.1:{silent.getsockname()[1]}"
    try:
        # A floor of 15 s: within this test only the connect timeout (2 s) can end the wait.
        limits = DownloadLimits(**{**FEED.__dict__, "floor_s": 15})
        host.stage(InstallSpec("9.4.16", VOLUME, "acm", feed_limits=limits))
        script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
        text = script.read_text()
        for feed in VENDOR_CHECKSUM_FEEDS:
            text = text.replace(feed, url + "/feed.json")
        script.write_text(text)
        started = time.monotonic()
        result = host.run(REAL_CURL=__import__("shutil").which("curl"), NO_PROXY="*", no_proxy="*")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert result.returncode != 0 and "no connection within 2 s" in result.stderr
    assert took < 12, took  # two feeds, 2 s each, far from the 15 s floor and the 20 s total
    assert_nothing_installed(host)


def test_a_feed_that_never_ends_above_the_floor_is_ended_at_its_total_time(host, loopback):
    stage(
        host, loopback, host.archive("9.4.16").read_bytes(), feed_limits=DownloadLimits(**{**FEED.__dict__, "max_s": 3})
    )
    for path in ("/feeds/current.json", "/feeds/archived.json"):
        loopback.answers[path] = stream(b" " * 500, 0.1)  # 5 KB/s, no length: above the floor, forever
    result, took = run(host, loopback)
    assert result.returncode != 0 and "not done within 3 s" in result.stderr
    assert took < 2 * 3 + 6, took  # two feeds of 3 s each, and the rest of the run
    assert_nothing_installed(host)


@pytest.mark.parametrize("announced", [True, False], ids=["size-announced", "size-unannounced"])
def test_an_oversized_feed_is_refused_at_its_maximum_size(host, loopback, announced):
    stage(host, loopback, host.archive("9.4.16").read_bytes())
    for path in ("/feeds/current.json", "/feeds/archived.json"):
        # 400 MiB announced, or a body that never ends (curl before 8.4 ignores --max-filesize then).
        loopback.answers[path] = stream(b"[" * 65536, 0, length=400 * 1024 * 1024 if announced else 0)
    result, took = run(host, loopback)
    assert result.returncode != 0
    assert result.stderr.count(f"larger than {FEED.max_bytes} bytes") == 2, result.stderr
    assert took < 10, took
    assert_nothing_installed(host)


def test_an_oversized_archive_is_refused_and_removed(host, loopback):
    digest = hashlib.sha256(b"x").hexdigest()
    stage(host, loopback, b"", installer_sha256=digest)
    loopback.answers[f"/archive/{NAME}"] = stream(b"\0" * 65536, 0)  # no end, no length
    result, took = run(host, loopback)
    assert result.returncode != 0 and f"larger than {ARCHIVE.max_bytes} bytes" in result.stderr
    assert f"could not download {loopback.url}/archive/{NAME}" in result.stderr and took < 10
    assert_nothing_installed(host)


# --- where the feeds come from, and what in them counts ---------------------------------------


def test_a_feed_redirected_to_another_host_listing_a_tampered_md5_is_not_read(host, loopback):
    bad = tampered()
    stage(host, loopback, bad)
    evil = _feed(feed_entry("9.4.16", hashlib.md5(bad).hexdigest()))
    loopback.answers["/evil/feed.json"] = evil
    for path in ("/feeds/current.json", "/feeds/archived.json"):
        loopback.answers[path] = redirect(f"{loopback.other}/evil/feed.json")
    result, _ = run(host, loopback)
    assert result.returncode != 0 and "no checksum to verify" in result.stderr
    assert f"it redirects to {loopback.other}/evil/feed.json: a feed is read from {loopback.url} only" in result.stderr
    assert loopback.asked("/evil/feed.json") == []  # the other host was never asked
    assert loopback.asked(f"/archive/{NAME}") == []
    assert_nothing_installed(host)


def test_a_feed_that_moves_within_its_own_host_is_followed_and_the_archive_installs(host, loopback):
    archive = host.archive("9.4.16").read_bytes()
    stage(host, loopback, archive)
    loopback.answers["/moved/feed.json"] = _feed(feed_entry("9.4.16", hashlib.md5(archive).hexdigest()))
    loopback.answers["/feeds/current.json"] = redirect("/moved/feed.json")  # relative: the same origin
    loopback.answers["/feeds/archived.json"] = redirect(f"{loopback.url}/moved/feed.json")
    result, _ = run(host, loopback)
    assert result.returncode == 0, result.stderr
    assert loopback.asked("/moved/feed.json") == ["127.0.0.1", "127.0.0.1"]
    assert os.readlink(host.path(CURRENT)) == "9.4.16"


def test_a_feed_entry_on_another_host_is_not_the_archives_md5(host, loopback):
    bad = tampered()
    stage(host, loopback, bad)
    entry = feed_entry("9.4.16", hashlib.md5(bad).hexdigest())
    entry["zipUrl"] = f"https://downloads.example.net/software/stash/downloads/binary/{NAME}"
    loopback.answers["/feeds/current.json"] = _feed(entry)
    loopback.answers["/feeds/archived.json"] = _feed(feed_entry("9.4.15", "0" * 32))
    result, _ = run(host, loopback)
    assert result.returncode != 0 and "no checksum to verify" in result.stderr
    assert loopback.asked(f"/archive/{NAME}") == []
    assert_nothing_installed(host)


LOOKALIKES = {
    "another-host": f"https://downloads.example.net/software/stash/downloads/binary/{NAME}",
    "vendor-name-as-subdomain": f"https://www.atlassian.com.example.net/software/stash/downloads/binary/{NAME}",
    "vendor-name-as-user": f"https://www.atlassian.com@example.net/software/stash/downloads/binary/{NAME}",
    "plain-http": f"http://www.atlassian.com/software/stash/downloads/binary/{NAME}",
    "another-port": f"https://www.atlassian.com:8443/software/stash/downloads/binary/{NAME}",
    "name-in-the-query": f"https://www.atlassian.com/software/stash/downloads/binary/x.zip?f=/{NAME}",
    "longer-name": f"https://www.atlassian.com/software/stash/downloads/binary/evil-{NAME}",
}


@pytest.mark.parametrize("url", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_only_an_entry_on_the_vendors_host_with_exactly_the_file_name_counts(host, url):
    # The vendor's own entry and a lookalike listing other bytes: only the vendor's is used.
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    real = feed_entry("9.4.16", hashlib.md5(host.archive("9.4.16").read_bytes()).hexdigest())
    lookalike = {**feed_entry("9.4.16", "f" * 32), "zipUrl": url}
    host.write_feed("archived", [lookalike, real])
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert "verified by its md5 from the vendor's download feed" in result.stderr
    # Alone, the lookalike is no checksum at all.
    host.write_feed("archived", [lookalike])
    host.path(CURRENT).unlink()
    for tree in host.path("/opt/atlassian/bitbucket").glob("9.4.16"):
        __import__("shutil").rmtree(tree)
    result = host.run()
    assert result.returncode != 0 and "no checksum to verify" in result.stderr


def test_a_feed_that_is_not_json_gives_no_checksum(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    md5 = hashlib.md5(host.archive("9.4.16").read_bytes()).hexdigest()
    # What a substring match took: the file name and an MD5 in one pair of braces, not JSON.
    host.feeds["archived"].write_text(f'<html>{{"zipUrl": "https://www.atlassian.com/x/{NAME}", "md5": "{md5}"}}')
    result = host.run()
    assert result.returncode != 0 and "it is not a download feed" in result.stderr
    assert "no checksum to verify" in result.stderr


# --- trust on first use ----------------------------------------------------------------------


def test_an_archive_other_than_the_one_the_site_first_verified_is_refused(host, loopback):
    first = host.archive("9.4.16").read_bytes()
    bad = tampered()
    # The vendor's feed now lists the tampered archive's MD5: only the recorded sha256 still stops it.
    stage(host, loopback, bad, trusted_sha256=hashlib.sha256(first).hexdigest())
    listing = _feed(feed_entry("9.4.16", hashlib.md5(bad).hexdigest()))
    loopback.answers["/feeds/current.json"] = loopback.answers["/feeds/archived.json"] = listing
    result, _ = run(host, loopback)
    assert result.returncode != 0
    assert (
        f"the archive's sha256 is not {hashlib.sha256(first).hexdigest()} (the sha256 this site first verified "
        "for Bitbucket 9.4.16, kept in the stack's state): refusing to install it"
    ) in result.stderr
    assert loopback.asked("/feeds/current.json") == []  # the record needs no feed
    assert_nothing_installed(host)


def test_the_recorded_archive_installs_without_the_feeds(host, loopback):
    archive = host.archive("9.4.16").read_bytes()
    stage(host, loopback, archive, trusted_sha256=hashlib.sha256(archive).hexdigest())
    result, _ = run(host, loopback)
    assert result.returncode == 0, result.stderr
    assert "verified by its sha256 from the sha256 this site first verified" in result.stderr
    assert loopback.asked("/feeds/current.json") == [] and os.readlink(host.path(CURRENT)) == "9.4.16"


def test_a_configured_sha256_other_than_the_recorded_one_is_refused_before_any_download(host):
    recorded = hashlib.sha256(host.archive("9.4.16").read_bytes()).hexdigest()
    host.stage(InstallSpec("9.4.16", VOLUME, "acm", installer_sha256="ab" * 32, trusted_sha256=recorded))
    result = host.run()
    assert result.returncode != 0
    assert f"mirrors[].installer.sha256 is {'ab' * 32}, but this site first verified" in result.stderr
    assert [c for c in calls(host.log, "curl") if "/status" not in c] == []
    assert_nothing_installed(host)


def test_a_tree_unpacked_from_other_bytes_is_refused(host):
    # Node 0's preflight unpacked what the vendor's MD5 vouched for; the record says other bytes.
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run("--preflight").returncode == 0
    host.stage(InstallSpec("9.4.16", VOLUME, "acm", trusted_sha256="cd" * 32))
    result = host.run()
    assert result.returncode != 0 and "was unpacked from an archive with sha256" in result.stderr
    assert f"not the {'cd' * 32} this site first verified" in result.stderr
    assert not host.path(CURRENT).exists()


def test_the_first_preflight_reports_the_sha256_it_verified_for_the_stacks_state(host):
    digest = hashlib.sha256(host.archive("9.4.16").read_bytes()).hexdigest()
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))  # verified by the vendor's MD5
    result = host.run("--preflight")
    assert result.returncode == 0, result.stderr
    assert reported_sha256(result.stdout, "9.4.16") == digest
    # Installed, the version runs: a preflight run again reports what its tree was unpacked from,
    # downloading nothing.
    assert host.run().returncode == 0
    host.log.unlink()
    again = host.run("--preflight")
    assert reported_sha256(again.stdout, "9.4.16") == digest
    assert [c for c in calls(host.log, "curl") if "/status" not in c] == []


def test_a_preflight_run_again_verifies_a_tree_the_site_never_trusted_again(host):
    # A preflight's bytes were refused (the nodes disagreed): the tree it left is not what a preflight
    # run again (`pulumi up --replace`) reports; it downloads and verifies the archive anew.
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run("--preflight").returncode == 0
    # What another node's bytes would have left: a tree whose marker names other bytes.
    host.path(f"{INSTALL_ROOT}/9.4.16/.bitbucket-mirrors-archive.sha256").write_text("ef" * 32 + "\n")
    host.log.unlink()
    again = host.run("--preflight")
    assert again.returncode == 0, again.stderr
    assert reported_sha256(again.stdout, "9.4.16") == hashlib.sha256(host.archive("9.4.16").read_bytes()).hexdigest()
    assert "downloading Bitbucket 9.4.16 again" in again.stderr
    assert [c for c in calls(host.log, "curl") if "atlassian-bitbucket-9.4.16.tar.gz" in c]


def test_a_preflight_of_a_version_installed_here_before_reuses_its_tree(host):
    # Going back to a version this node ran (a restore): its tree held trusted bytes when installed.
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    host.path(CURRENT).unlink()  # as after an upgrade to another version
    host.log.unlink()
    again = host.run("--preflight")
    assert again.returncode == 0, again.stderr
    assert reported_sha256(again.stdout, "9.4.16") == hashlib.sha256(host.archive("9.4.16").read_bytes()).hexdigest()
    assert [c for c in calls(host.log, "curl") if "/status" not in c] == []


def test_a_refused_redirects_location_is_shown_printable_and_short(host, loopback):
    stage(host, loopback, host.archive("9.4.16").read_bytes())
    for path in ("/feeds/current.json", "/feeds/archived.json"):
        loopback.answers[path] = redirect(f"{loopback.other}/{'a' * 5000}")
    result, _ = run(host, loopback)
    assert result.returncode != 0
    shown = [line for line in result.stderr.splitlines() if "it redirects to" in line]
    assert len(shown) == 2 and all(len(line) < 400 for line in shown), shown
