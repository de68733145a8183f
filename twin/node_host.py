"""A node's disk for the twin: a scratch root per instance where the program's commands run for
real, in bash, with stand-ins only for what the OS and the vendor provide.

The command runs as pulumi-command sends it; its absolute paths on the node's disk (/opt, /var,
/etc, /usr/local) are taken inside the scratch root, as a chroot would, and the install script
honours the same root through its own hook (`BBM_ROOT`, "every absolute path goes through ROOT").
What cannot run here is a shim on PATH: systemd, mount, the package manager, the JVM's tools, the
network. Shims that touch the world (systemctl, mount, sleep, curl, the package manager) ask the
twin over a pair of pipes, one line each way, and wait for the answer: the twin answers from the
world at the modelled time (twin/node.py), so `sleep 5` is five modelled seconds and `curl
/status` is what Bitbucket on that instance answers then. The others answer locally.

The scratch root lives as long as the instance's root volume (a replaced root volume is a new,
empty one). The home is not on it: it is the EBS volume's, kept in the world (`Home`) and written
into the mount point while mounted, read back after every call into the world and at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Optional

# A reply is "<exit code>\t<one line for stdout>".
Answer = Callable[[str], tuple[int, str]]

_ASK = (
    'ask() { printf "%s\\n" "$*" >&"$TWIN_REQ_FD"; IFS= read -r reply <&"$TWIN_REP_FD"; '
    "rc=${reply%%$'\\t'*}; out=${reply#*$'\\t'}; }\n"
)
# Shims. World-facing ones ask the twin; `sudo` runs the command as it is (in the scratch root, the
# caller's user owns everything, and the environment carries the root); the rest stand in locally.
SHIMS = {
    "sudo": 'exec "$@"',
    "systemctl": 'ask systemctl "$@"; [ -z "$out" ] || printf "%s\\n" "$out"; exit "$rc"',
    "sleep": 'ask sleep "$@"; exit "$rc"',
    "mount": 'ask mount "$@"; [ -z "$out" ] || printf "%s\\n" "$out" >&2; exit "$rc"',
    "umount": 'ask umount "$@"; [ -z "$out" ] || printf "%s\\n" "$out" >&2; exit "$rc"',
    "mountpoint": 'ask mountpoint "$@"; exit "$rc"',
    "mkfs.xfs": 'ask mkfs.xfs "$@"; exit "$rc"',
    "dnf": 'ask packages dnf "$@"; exit "$rc"',
    "apt-get": 'ask packages apt-get "$@"; exit "$rc"',
    # curl: /status is Bitbucket's answer; any other URL is the vendor's (or operator's) server,
    # which answers with a local file the twin made (twin/vendor.py) or not at all (exit 22).
    "curl": (
        # The feeds' --write-out asks for the answer's status and redirect: a 200 with none.
        'answer=""; case "$*" in *"%{http_code}"*) answer="200 " ;; esac\n'
        'url=""; outfile=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && { outfile=$2; shift; }; url=$1; shift; done\n'
        'case "$url" in *"/status") ask status "$url"; printf "%s" "$out"; exit "$rc" ;; esac\n'
        'ask fetch "$url"; [ "$rc" = 0 ] || { echo "curl: ($rc) The requested URL returned error" >&2; exit "$rc"; }\n'
        'cp "$out" "$outfile"; printf "%s" "$answer"'
    ),
    # A stand-in archive stands for the real one: its digest is the one the real file has.
    "sha256sum": (
        'case " $* " in *" --check "*|*" -c "*) ;; *) exec "$TWIN_REAL_SHA256SUM" "$@" ;; esac\n'
        'ok=0; while read -r want file; do got=$("$TWIN_REAL_SHA256SUM" "$file" | cut -d" " -f1)\n'
        'stood=$(sed -n "s/^$got //p" "$TWIN_DIGESTS" 2>/dev/null); [ "${stood:-$got}" = "$want" ] || ok=1; done\n'
        'exit "$ok"'
    ),
    "blkid": (
        'dev=${*: -1}; case "$*" in *TYPE*) [ -s "$dev" ] && cat "$dev" ;; '
        '*UUID*) basename "$dev" | sed "s/.*_vol//; s/^\\(xv\\|s\\)d.*//" ;; esac; exit 0'
    ),
    "java": 'echo "openjdk version \\"17.0.12\\" 2024-07-16 LTS" >&2',
    "git": 'echo "git version 2.40.1"',
    "ssh": 'echo "OpenSSH_8.7p1, OpenSSL 3.0.8 7 Feb 2023" >&2',
    "id": '[ -e "$BBM_ROOT/etc/.twin-users" ] && grep -qx "${*: -1}" "$BBM_ROOT/etc/.twin-users"',
    "useradd": 'printf "%s\\n" "${*: -1}" >>"$BBM_ROOT/etc/.twin-users"',
    "chown": "exit 0",
    "journalctl": 'echo "journal: Bitbucket failed to start"',
    "keytool": "exit 0",
    "nginx": "exit 0",
    "xfs_growfs": "exit 0",
    "sync": "exit 0",
}

# The shims the install script calls in its loops (a poll of /status every 5 s), also as bash
# functions every bash inside inherits (exported functions): the same answers without starting a
# process per call. Functions return where the file shims exit.
FUNCTIONS = {
    "__twin_ask": (
        'printf "%s\\n" "$*" >&"$TWIN_REQ_FD"; IFS= read -r __twin_reply <&"$TWIN_REP_FD"; '
        "__twin_rc=${__twin_reply%%$'\\t'*}; __twin_out=${__twin_reply#*$'\\t'}"
    ),
    "sleep": '__twin_ask sleep "$@"; return "$__twin_rc"',
    "curl": (
        'local __twin_url="" __twin_file="" __twin_answer=""; case "$*" in *"%{http_code}"*) __twin_answer="200 " ;; '
        "esac; while [ $# -gt 0 ]; do "
        'if [ "$1" = -o ]; then __twin_file=$2; shift; fi; __twin_url=$1; shift; done; '
        'case "$__twin_url" in */status) __twin_ask status "$__twin_url"; printf "%s" "$__twin_out"; '
        'return "$__twin_rc" ;; esac; __twin_ask fetch "$__twin_url"; '
        'if [ "$__twin_rc" != 0 ]; then echo "curl: ($__twin_rc) The requested URL returned error" >&2; '
        'return "$__twin_rc"; fi; cp "$__twin_out" "$__twin_file"; printf "%s" "$__twin_answer"'
    ),
}

# Absolute paths on the node's own disk, taken inside the scratch root (what chroot would do).
_NODE_PATH = re.compile(r"(?<![\w$\"'/.-])/(?=(?:opt|var|etc|usr/local)/)")


class ShimDirectory:
    """The shims, written once per twin and shared by every node's scratch root."""

    def __init__(self, base: Path) -> None:
        self.path = base / "shims"
        self.path.mkdir(parents=True, exist_ok=True)
        for name, body in SHIMS.items():
            shim = self.path / name
            shim.write_text(f"#!/usr/bin/env bash\n{_ASK}{body}\n")
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class ScratchRoot:
    """One instance's root volume: where its commands run."""

    def __init__(self, base: Path, name: str, ubuntu: bool) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
        etc = self.path / "etc"
        etc.mkdir()
        os_release = 'ID="ubuntu"\nVERSION_ID="24.04"\n' if ubuntu else 'ID="amzn"\nVERSION_ID="2023"\n'
        (etc / "os-release").write_text(os_release)

    def at(self, absolute: str) -> Path:
        return self.path / absolute.lstrip("/")

    def set_devices(self, volumes: dict[str, bool]) -> None:
        """The block devices of the volumes attached now (id -> formatted), named as on Nitro."""
        directory = self.at("/dev/disk/by-id")
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        for volume_id, formatted in volumes.items():
            device = directory / f"nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
            device.write_text("xfs\n" if formatted else "")


def node_command(command: str) -> str:
    """The command as it runs in the scratch root: its node paths under $BBM_ROOT."""
    return _NODE_PATH.sub('"$BBM_ROOT"/', command)


def run_in_root(
    root: ScratchRoot, shims: ShimDirectory, digests: Path, command: str, stdin: Optional[str], answer: Answer
) -> subprocess.CompletedProcess:
    """Run `command` with bash in the scratch root; every shim's question goes to `answer` while the
    command waits (so the world may spend modelled time in it). Returns when the command ends."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    environment = {
        "PATH": f"{shims.path}:/usr/bin:/bin",
        "HOME": str(root.path),
        "LANG": "C",
        "BBM_ROOT": str(root.path),
        "TWIN_REQ_FD": str(req_w),
        "TWIN_REP_FD": str(rep_r),
        "TWIN_DIGESTS": str(digests),
        "TWIN_REAL_SHA256SUM": shutil.which("sha256sum", path="/usr/bin:/bin") or "sha256sum",
        "TMPDIR": str(root.path.parent),
        **{f"BASH_FUNC_{name}%%": f"() {{ {body}\n}}" for name, body in FUNCTIONS.items()},
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as given:
        given.write((stdin or "").encode())
        given.seek(0)
        try:
            process = subprocess.Popen(
                ["bash", "-c", node_command(command)],
                stdin=given,
                stdout=out,
                stderr=err,
                env=environment,
                cwd=root.path,
                pass_fds=(req_w, rep_r),
            )
        finally:
            os.close(req_w)
            os.close(rep_r)
        try:
            with os.fdopen(req_r, "r") as requests:
                for line in requests:  # ends when the command and all its children have exited
                    code, text = answer(line.rstrip("\n"))
                    os.write(rep_w, f"{code}\t{text}\n".encode())
        except BaseException:
            process.kill()  # the up was killed, or the twin failed: the command goes with it
            raise
        finally:
            os.close(rep_w)
            process.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            process.args, process.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        )
