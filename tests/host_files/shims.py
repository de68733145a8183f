"""Stand-ins for what cannot run in a test (package manager, systemd, mounts, the JVM's keytool,
downloads), so the install script's own logic runs for real in a scratch root. Each records its
call in $SHIM_LOG; versions and answers come from environment variables."""

from __future__ import annotations

import stat
from pathlib import Path

SHIMS = {
    "dnf": "exit 0",
    "apt-get": "exit 0",
    "java": 'echo "openjdk version \\"${JAVA_VERSION:-17.0.12}\\" 2024-07-16 LTS" >&2',
    "git": 'echo "git version ${GIT_VERSION:-2.40.1}"',
    "ssh": 'echo "OpenSSH_${SSH_VERSION:-8.7}p1, OpenSSL 3.0.8 7 Feb 2023" >&2',
    "blkid": (
        'case "$*" in *TYPE*) [ -e "$BBM_ROOT/.formatted" ] && echo xfs ;; '
        "*UUID*) echo 0a1b2c3d-0000-4000-8000-123456789abc ;; esac; exit 0"
    ),
    "mkfs.xfs": 'touch "$BBM_ROOT/.formatted"',
    "mountpoint": "exit 1",
    "mount": "exit 0",
    "id": '[ -e "$BBM_ROOT/.user" ]',
    "useradd": 'touch "$BBM_ROOT/.user"',
    "chown": "exit 0",
    "systemctl": (
        'case "$1" in is-active) [ -e "$BBM_ROOT/.active" ] ;; restart|start) touch "$BBM_ROOT/.active" ;; '
        'stop) rm -f "$BBM_ROOT/.active" ;; esac'
    ),
    "journalctl": 'echo "journal: Bitbucket failed"',
    "keytool": "exit 0",
    "nginx": "exit 0",
    "sleep": "exit 0",
    # The local /status probe answers STATUS_BODY. Downloads: with REAL_CURL, the real curl runs
    # (tests that serve over TLS and redirect); otherwise the vendor's feeds are FAKE_FEED_CURRENT
    # and FAKE_FEED_ARCHIVED, anything else is FAKE_ARCHIVE, and what is unset cannot be reached.
    "curl": (
        'case "$*" in *"/status"*) printf "%s" "${STATUS_BODY:-{\\"state\\":\\"RUNNING\\"}}"; exit 0 ;; esac\n'
        '[ -z "${REAL_CURL:-}" ] || exec "$REAL_CURL" "$@"\n'
        # What the feeds' --write-out asks: the answer's status, and no redirect.
        'answer=""; case "$*" in *"%{http_code}"*) answer="200 " ;; esac\n'
        'out=""; url=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; url=$1; shift; done\n'
        'case "$url" in */download/feeds/current/*) src=${FAKE_FEED_CURRENT:-} ;;\n'
        "  */download/feeds/archived/*) src=${FAKE_FEED_ARCHIVED:-} ;; *) src=${FAKE_ARCHIVE:-} ;; esac\n"
        '[ -n "$src" ] || exit 22\ncp "$src" "$out"\nprintf "%s" "$answer"'
    ),
}


def install_shims(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in SHIMS.items():
        path = directory / name
        path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$SHIM_LOG"\n{body}\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def calls(log: Path, name: str) -> list[str]:
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if line.split(" ", 1)[0] == name]
