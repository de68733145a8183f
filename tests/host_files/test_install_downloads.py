"""What the install script downloads and how it knows the bytes are the right ones.

Every download is https only, also after a redirect: checked in the rendered script, in what the
script really hands curl, and with the real curl against local servers that redirect https to http.
The archive is verified before anything is unpacked or stopped: by `mirrors[].installer.sha256`
when it is set, else by the MD5 the vendor publishes for that file in its download feeds; when
neither can be had, nothing is installed and the message names the key to set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from components.host_files import STAGING_DIR, InstallSpec, StagedFile, render_install_script
from components.host_files.specs import JMX_EXPORTER_SHA256, VENDOR_CHECKSUM_FEEDS

from .shims import calls
from .test_install_script import CURRENT, HOME, VOLUME, Host, feed_entry

TLS_FLAGS = "--proto =https --proto-redir =https"
KEY = "mirrors[].installer.sha256"
DOWNLOADS = "/opt/atlassian/bitbucket/downloads"
INTERNAL = "https://artifacts.example.com/atlassian-bitbucket-9.4.17.tar.gz"


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


def _code_lines(script: str) -> list[str]:
    """The script's commands, one a line (continuation lines joined), without comments."""
    return [line for line in script.replace("\\\n", " ").splitlines() if not line.lstrip().startswith("#")]


# --- the rendered script ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        InstallSpec("9.4.16", VOLUME, "acm"),
        InstallSpec("9.4.16", VOLUME, "nginx", installer_url=INTERNAL, installer_sha256="ab" * 32, jmx_exporter=True),
    ],
    ids=["vendor", "internal-jmx"],
)
def test_every_download_in_the_script_refuses_anything_but_https_also_after_a_redirect(spec):
    script = render_install_script(spec)
    lines = _code_lines(script)
    # curl run as a command (not the package of that name the install makes sure of).
    curls = [line.strip() for line in lines if re.search(r"\bcurl\s+--", line)]
    # One curl downloads (the fetch function) and one asks the local Bitbucket for its status.
    assert len(curls) == 2, curls
    download, status = sorted(curls, key=lambda line: "127.0.0.1" in line)
    assert TLS_FLAGS in download and "--tlsv1.2" in download
    # Every download bounded: connect, speed floor, size and total time (values: test_download_limits).
    for flag in ("--connect-timeout", "--speed-limit", "--speed-time", "--max-filesize", "--max-time"):
        assert flag in download, flag
    assert download.startswith('exec timeout --kill-after=5 "$max_s" curl ')
    assert "--location" not in download  # only the callers that may follow a redirect ask for it
    assert "http://127.0.0.1:7990/status" in status and "--location" not in status  # follows nothing
    assert not [line for line in lines if re.search(r"\b(wget)\b", line)]
    # Everything fetched from the network goes through that one function: the archive and the agent
    # (redirects to https followed: their checksum decides), the feeds hop by hop (fetch_feed).
    fetched = {
        m.group(1): line for line in lines for m in [re.search(r'\bfetch "\$\{\w+\[@\]\}" "\$(\w+)"', line)] if m
    }
    assert set(fetched) == {"INSTALLER_URL", "JMX_URL", "url"}
    assert "--location" in fetched["INSTALLER_URL"] and "--location" in fetched["JMX_URL"]
    assert "--location" not in fetched["url"] and "%{redirect_url}" in fetched["url"]
    assert [line.strip() for line in lines if re.search(r"\bfetch_feed \"", line)] == [
        'if ! fetch_feed "$feed" "$body"; then'
    ]
    for feed in VENDOR_CHECKSUM_FEEDS:
        assert feed.startswith("https://") and feed in script


def test_every_curl_the_install_runs_carries_the_https_only_flags(host):
    # A node with everything that downloads: the vendor's feeds, the archive and the JMX agent.
    spec = InstallSpec("9.4.16", VOLUME, "acm", jmx_exporter=True)
    host.stage(spec)
    script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
    agent = hashlib.sha256(Path(host.env["FAKE_ARCHIVE"]).read_bytes()).hexdigest()
    script.write_text(script.read_text().replace(JMX_EXPORTER_SHA256, agent))
    result = host.run()
    assert result.returncode == 0, result.stderr
    downloads = [c for c in calls(host.log, "curl") if "127.0.0.1:7990/status" not in c]
    urls = [c.rsplit(" ", 1)[1] for c in downloads]
    agents = [u for u in urls if u.endswith("/jmx_prometheus_javaagent-1.6.0.jar")]
    assert len(agents) == 1 and sorted(set(urls) - set(agents)) == sorted(
        [
            *VENDOR_CHECKSUM_FEEDS,
            "https://product-downloads.atlassian.com/software/stash/downloads/atlassian-bitbucket-9.4.16.tar.gz",
        ]
    )
    assert all(TLS_FLAGS in c for c in downloads), downloads
    # And every one bounded: connection, speed floor, size, total time.
    for flag in ("--connect-timeout 20", "--speed-limit 16384 --speed-time 60", "--max-filesize", "--max-time"):
        assert all(flag in c for c in downloads), (flag, downloads)


# --- the real curl against servers that redirect ---------------------------------------------


class Servers:
    """An https server (a throwaway CA the script's curl trusts) and a plain http one. The https
    server serves `files` and answers `redirects` (path -> Location) with 302; the http server
    serves the same files and records every request it gets."""

    def __init__(self, tmp: Path):
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.http_requests: list[str] = []
        ca = trustme.CA()
        self.ca_file = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._servers = [self._start(context), self._start(None)]
        self.https = f"https://127.0.0.1:{self._servers[0].server_address[1]}"
        self.http = f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def _start(self, context) -> ThreadingHTTPServer:
        servers = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if context is None:
                    servers.http_requests.append(self.path)
                elif self.path in servers.redirects:
                    self.send_response(302)
                    self.send_header("Location", servers.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = servers.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def servers(tmp_path):
    found = Servers(tmp_path)
    yield found
    found.close()


def _real_curl(host: Host, servers: Servers) -> dict[str, str]:
    curl = shutil.which("curl")  # the tests' own PATH: the shims are only the script's
    assert curl, "curl is required (scripts/test.sh installs it)"
    # Only the local servers, directly: no proxy from the environment.
    return {
        "REAL_CURL": curl,
        "CURL_CA_BUNDLE": str(servers.ca_file),
        "NO_PROXY": "*",
        "no_proxy": "*",
        "HTTPS_PROXY": "",
        "https_proxy": "",
        "HTTP_PROXY": "",
        "http_proxy": "",
        "ALL_PROXY": "",
        "all_proxy": "",
    }


def _stage_download(host: Host, servers: Servers, path: str, version: str = "9.4.16") -> InstallSpec:
    archive = host.archive(version).read_bytes()
    servers.files[f"/real/atlassian-bitbucket-{version}.tar.gz"] = archive
    spec = InstallSpec(
        version, VOLUME, "acm", installer_url=servers.https + path, installer_sha256=hashlib.sha256(archive).hexdigest()
    )
    host.stage(spec)
    return spec


def test_a_redirect_from_https_to_http_is_refused_by_the_real_curl(host, servers):
    servers.redirects["/get/bb.tar.gz"] = servers.http + "/real/atlassian-bitbucket-9.4.16.tar.gz"
    _stage_download(host, servers, "/get/bb.tar.gz")
    result = host.run(**_real_curl(host, servers))
    assert result.returncode != 0
    assert "could not download https://127.0.0.1" in result.stderr and "https only" in result.stderr
    assert servers.http_requests == [], "curl never asked the http server"
    assert not host.path(CURRENT).exists() and not host.path("/opt/atlassian/bitbucket/9.4.16").exists()
    assert [c for c in calls(host.log, "systemctl")] == []


def test_without_the_flags_the_same_redirect_would_have_been_followed(host, servers):
    # The refusal above is the flags' doing: the same script without them fetches over http.
    servers.redirects["/get/bb.tar.gz"] = servers.http + "/real/atlassian-bitbucket-9.4.16.tar.gz"
    _stage_download(host, servers, "/get/bb.tar.gz")
    script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
    script.write_text(script.read_text().replace(" --proto =https --proto-redir =https", ""))
    result = host.run(**_real_curl(host, servers))
    assert servers.http_requests == ["/real/atlassian-bitbucket-9.4.16.tar.gz"]
    assert result.returncode == 0, result.stderr


def test_a_redirect_to_https_is_followed_and_the_archive_installs(host, servers):
    servers.redirects["/get/bb.tar.gz"] = servers.https + "/real/atlassian-bitbucket-9.4.16.tar.gz"
    _stage_download(host, servers, "/get/bb.tar.gz")
    result = host.run(**_real_curl(host, servers))
    assert result.returncode == 0, result.stderr
    assert os.readlink(host.path(CURRENT)) == "9.4.16" and servers.http_requests == []


def test_a_vendor_feed_redirected_to_http_is_refused_and_nothing_is_downloaded(host, servers):
    archive = host.archive("9.4.16")
    servers.files["/real/atlassian-bitbucket-9.4.16.tar.gz"] = archive.read_bytes()
    servers.files["/feed.json"] = host.feeds["archived"].read_bytes()  # it lists the right MD5
    servers.redirects["/feeds/stash.json"] = servers.http + "/feed.json"
    spec = InstallSpec("9.4.16", VOLUME, "acm", installer_url=servers.https + "/real/atlassian-bitbucket-9.4.16.tar.gz")
    host.stage(spec)
    script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
    text = script.read_text()
    for feed in VENDOR_CHECKSUM_FEEDS:
        text = text.replace(feed, servers.https + "/feeds/stash.json")
    script.write_text(text)
    result = host.run(**_real_curl(host, servers))
    assert result.returncode != 0 and KEY in result.stderr
    assert servers.http_requests == []
    assert not host.path(CURRENT).exists()


# --- what the archive is verified by ---------------------------------------------------------


def _running(host: Host, version: str = "9.4.16", generation: str = "aaaaaaaaaaaaaaaa") -> Path:
    """A node serving `version`, with a repository in its home; the shim log emptied."""
    host.stage(InstallSpec(version, VOLUME, "acm"), generation=generation)
    assert host.run().returncode == 0
    repository = host.path(HOME + "/shared/data/repositories/1/HEAD")
    repository.parent.mkdir(parents=True)
    repository.write_text("ref: refs/heads/main\n")
    host.log.unlink()
    return repository


def _untouched(host: Host, repository: Path, running: str = "9.4.16", target: str = "9.4.17") -> None:
    """Nothing unpacked, stopped, emptied or left behind: the node serves what it served."""
    assert os.readlink(host.path(CURRENT)) == running
    assert not host.path(f"/opt/atlassian/bitbucket/{target}").exists()
    assert list(host.path(DOWNLOADS).iterdir()) == []
    assert not list(host.path("/opt/atlassian/bitbucket").glob(".unpack.*"))
    assert repository.read_text() == "ref: refs/heads/main\n"
    systemctl = calls(host.log, "systemctl")
    assert not [c for c in systemctl if c.split()[1] in ("stop", "restart", "start")], systemctl
    assert calls(host.log, "mkfs.xfs") == [] and calls(host.log, "mount") == []


def test_a_sha256_mismatch_stops_the_upgrade_before_anything_is_unpacked_or_stopped(host):
    repository = _running(host)
    # Another generation too: without the early check, its home would already have been emptied.
    host.stage(
        InstallSpec("9.4.17", VOLUME, "acm", installer_url=INTERNAL, installer_sha256="00" * 32),
        generation="bbbbbbbbbbbbbbbb",
    )
    result = host.run()
    assert result.returncode != 0
    assert f"the archive's sha256 is not {'00' * 32} ({KEY}): refusing to install it" in result.stderr
    _untouched(host, repository)
    assert not [c for c in calls(host.log, "curl") if "/download/feeds/" in c], "a sha256 needs no feed"


def test_a_vendor_md5_mismatch_stops_the_upgrade_before_anything_is_unpacked_or_stopped(host):
    repository = _running(host)
    host.stage(InstallSpec("9.4.17", VOLUME, "acm"), generation="bbbbbbbbbbbbbbbb")
    host.write_feed("archived", [feed_entry("9.4.17", "f" * 32)])
    result = host.run()
    assert result.returncode != 0
    assert f"the archive's md5 is not {'f' * 32} (the vendor's download feed" in result.stderr
    _untouched(host, repository)


@pytest.mark.parametrize("case", ["feeds unreachable", "version not listed", "only other files listed"])
def test_no_checksum_to_be_had_installs_nothing_and_names_the_key(host, case):
    repository = _running(host)
    host.stage(InstallSpec("9.4.17", VOLUME, "acm"))
    env = {}
    if case == "feeds unreachable":
        env = {"FAKE_FEED_CURRENT": "", "FAKE_FEED_ARCHIVED": ""}
    elif case == "version not listed":
        host.write_feed("archived", [feed_entry("9.4.16", "a" * 32), feed_entry("9.4.1", "b" * 32)])
    else:
        host.write_feed(
            "archived",
            [feed_entry("9.4.17", "c" * 32, "ZIP Archive"), feed_entry("9.4.17", "d" * 32, "Linux 64bit Installer")],
        )
    result = host.run(**env)
    assert result.returncode != 0
    assert "no checksum to verify atlassian-bitbucket-9.4.17.tar.gz against" in result.stderr
    assert (
        f"set {KEY} to the archive's sha256" in result.stderr
        and "Refusing to install an unverified archive" in result.stderr
    )
    if case == "feeds unreachable":
        assert "could not read the vendor's checksums from https://my.atlassian.com/download/feeds/" in result.stderr
    # Not a byte of the archive was downloaded.
    assert [c for c in calls(host.log, "curl") if "/download/feeds/" not in c and "/status" not in c] == []
    _untouched(host, repository)


def test_feeds_that_disagree_on_the_md5_are_refused(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    host.write_feed("current", [feed_entry("9.4.16", "e" * 32)])
    result = host.run()
    assert result.returncode != 0 and "list 2 different MD5s" in result.stderr and KEY in result.stderr
    assert not host.path(CURRENT).exists()


@pytest.mark.parametrize(
    "form",
    [{}, {"jsonp": True}, {"escaped": True}, {"pretty": True}],
    ids=["json", "jsonp", "escaped-slashes", "pretty-printed"],
)
def test_the_vendors_md5_verifies_the_archive_by_default(host, form):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    archived = host.feeds["archived"].read_text()
    host.write_feed(
        "archived",
        [feed_entry("9.4.16", "1" * 32, "ZIP Archive"), *json.loads(archived), feed_entry("9.4.1", "2" * 32)],
        **form,
    )
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert "verified by its md5 from the vendor's download feed" in result.stderr
    assert os.readlink(host.path(CURRENT)) == "9.4.16"
    feeds = [c.rsplit(" ", 1)[1] for c in calls(host.log, "curl") if "/download/feeds/" in c]
    assert feeds == list(VENDOR_CHECKSUM_FEEDS)  # read before the archive
    assert list(host.path(DOWNLOADS).iterdir()) == []  # the feed copy is not kept


def test_a_configured_sha256_verifies_the_archive_without_the_vendors_feed(host):
    digest = hashlib.sha256(host.archive("9.4.16").read_bytes()).hexdigest()
    host.stage(
        InstallSpec(
            "9.4.16", VOLUME, "acm", installer_url=INTERNAL.replace("9.4.17", "9.4.16"), installer_sha256=digest
        )
    )
    result = host.run(FAKE_FEED_CURRENT="", FAKE_FEED_ARCHIVED="")  # an air-gapped network
    assert result.returncode == 0, result.stderr
    assert f"verified by its sha256 from {KEY}" in result.stderr
    assert [c for c in calls(host.log, "curl") if "/download/feeds/" in c] == []


def test_preflight_with_an_archive_that_does_not_verify_leaves_the_node_serving(host):
    repository = _running(host)
    spec = InstallSpec("9.5.0", VOLUME, "acm")
    host.archive("9.5.0")
    host.write_feed("archived", [feed_entry("9.5.0", "f" * 32)])  # the vendor's MD5 is another file's
    result = host.on_stdin(spec, "--preflight", FAKE_ARCHIVE=str(host.archive("9.5.0")))
    assert result.returncode != 0 and "the archive's md5 is not" in result.stderr
    _untouched(host, repository, target="9.5.0")
