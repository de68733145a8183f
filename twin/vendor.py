"""The servers a node downloads from, as stand-ins: the vendor's (Bitbucket archives and the download
feeds that list each archive's MD5), Maven Central (the JMX exporter) and an operator's artifact
server (mirrors[].installer.url).

A stand-in archive is a small tarball laid out as the vendor's (`atlassian-bitbucket-<V>/bin/...`),
built once per version with fixed bytes; the feeds list its real MD5, so the install script's
feed lookup and `md5sum --check` run for real. Where the program pins a sha256 (the operator's
installer.sha256, the JMX exporter's pinned digest), no stand-in can have those bytes: the stand-in
stands for the pinned file, and the twin's `sha256sum` answers the pinned digest for it (and only
for it; any other file is hashed for real).

Which archives exist is read from the script the node runs (its VERSION, INSTALLER_URL and pins):
the vendor publishes every release a stack can name.

A node can be served the vendor's republished copy (Faults.republished_nodes): other bytes under the
same archive name, with the feeds listing their MD5, as a download cache or the vendor's CDN in
between serves while the vendor replaces an archive. Such a node's download verifies (the feed it
reads agrees with the bytes it gets); only comparing what the nodes verified tells it apart.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shlex
import tarfile
from pathlib import Path
from typing import Optional

from components.host_files.specs import VENDOR_CHECKSUM_FEEDS

_ARCHIVE = re.compile(r"atlassian-bitbucket-(\d+\.\d+\.\d+)\.tar\.gz$")
_SETTINGS = ("VERSION", "INSTALLER_URL", "INSTALLER_SHA256", "JMX_URL", "JMX_SHA256")


def script_settings(script: str) -> dict[str, str]:
    """The install script's pinned settings (`NAME=value` lines at its top, shell-quoted)."""
    found: dict[str, str] = {}
    for line in script.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in _SETTINGS and name not in found:
            words = shlex.split(value) if value else []
            found[name] = words[0] if words else ""
    return found


class Vendor:
    """The download servers a node reaches, as stand-ins: archives, checksum feeds and pinned files
    the install script fetches, made to exist before the script runs."""

    def __init__(self, base: Path) -> None:
        self.base = base / "vendor"
        self.base.mkdir(parents=True, exist_ok=True)
        self.digests = self.base / "digests"  # "<real sha256> <the pinned one it stands for>"
        self.digests.write_text("")
        self.md5: dict[str, str] = {}  # version -> MD5 of its archive
        self.pinned: dict[str, Path] = {}  # URL -> the stand-in served there
        self.feeds = {url: self.base / f"feed-{i}.json" for i, url in enumerate(VENDOR_CHECKSUM_FEEDS)}
        self._write_feeds()

    def prepare(self, script: str) -> None:
        """Make what the script will download exist: its version's archive, and stand-ins for pins."""
        settings = script_settings(script)
        version = settings.get("VERSION", "")
        if re.fullmatch(r"\d+\.\d+\.\d+", version):
            self.archive(version)
        url, pinned = settings.get("INSTALLER_URL", ""), settings.get("INSTALLER_SHA256", "")
        if url and pinned:
            match = _ARCHIVE.search(url)
            self._pin(url, self.archive(match.group(1)) if match else self._blob(url), pinned)
        url, pinned = settings.get("JMX_URL", ""), settings.get("JMX_SHA256", "")
        if url and pinned:
            self._pin(url, self._blob(url), pinned)

    def fetch(self, url: str, republished: bool = False) -> Optional[Path]:
        """What a GET of `url` returns (a local file), or None: nothing there. `republished`: what
        a node served the vendor's republished copies gets (the module's docstring)."""
        if republished and url in self.feeds:
            return self._republished_feeds()[url]
        match = _ARCHIVE.search(url)
        if republished and match and match.group(1) in self.md5:
            return self.archive(match.group(1), republished=True)
        if url in self.feeds:
            return self.feeds[url]
        if url in self.pinned:
            return self.pinned[url]
        match = _ARCHIVE.search(url)
        if match and match.group(1) in self.md5:
            return self.archive(match.group(1))
        return None

    def archive(self, version: str, republished: bool = False) -> Path:
        path = self.base / ("republished" if republished else "") / f"atlassian-bitbucket-{version}.tar.gz"
        if path.exists():
            return path
        path.parent.mkdir(exist_ok=True)
        data = b"#!/bin/sh\necho started\n" + (b"# republished\n" if republished else b"")
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            info = tarfile.TarInfo(f"atlassian-bitbucket-{version}/bin/start-bitbucket.sh")
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
        path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
        if not republished:
            self.md5[version] = hashlib.md5(path.read_bytes()).hexdigest()
            self._write_feeds()
        return path

    def _republished_feeds(self) -> dict[str, Path]:
        """The feeds as the republished copies' cache serves them: each version's republished MD5."""
        md5 = {v: hashlib.md5(self.archive(v, republished=True).read_bytes()).hexdigest() for v in self.md5}
        paths = {url: self.base / "republished" / path.name for url, path in self.feeds.items()}
        self._write_feeds(md5, paths)
        return paths

    def _blob(self, url: str) -> Path:
        path = self.base / f"blob-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
        if not path.exists():
            path.write_text(f"stand-in for {url}\n")
        return path

    def _pin(self, url: str, path: Path, pinned: str) -> None:
        self.pinned[url] = path
        real = hashlib.sha256(path.read_bytes()).hexdigest()
        lines = [line for line in self.digests.read_text().splitlines() if not line.startswith(real + " ")]
        self.digests.write_text("".join(f"{line}\n" for line in [*lines, f"{real} {pinned}"]))

    def _write_feeds(self, digests: Optional[dict[str, str]] = None, paths: Optional[dict[str, Path]] = None) -> None:
        """The vendor's feeds (or a cache's, `paths`): the archived one lists every release with its
        archive's MD5 (`digests`, the vendor's own by default)."""
        digests, paths = digests if digests is not None else self.md5, paths or self.feeds
        entries = [
            {
                "description": f"{version} (TAR.GZ Archive)",
                "zipUrl": f"https://www.atlassian.com/software/stash/downloads/binary/atlassian-bitbucket-{version}.tar.gz",
                "md5": md5,
                "version": version,
            }
            for version, md5 in sorted(digests.items())
        ]
        for i, path in enumerate(paths.values()):
            path.write_text(json.dumps(entries if i == len(paths) - 1 else [], separators=(",", ":")))
