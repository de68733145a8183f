"""`python -m twin.emulator` serves a primary and a mirror for trying the providers by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _first_lines(process: subprocess.Popen, n: int, timeout_s: float = 30) -> list[str]:
    """Its first `n` lines as a user watching it would see them: within `timeout_s`, not at exit."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout.readline() for _ in range(n)), daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert len(lines) == n, f"its first {n} lines were not printed within {timeout_s:.0f}s (buffered?)"
    return lines


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# "ignored": started as from nohup or a background job, whose children inherit SIGINT ignored.
@pytest.mark.parametrize("sigint", ["inherited", "ignored"])
def test_runs_by_hand_and_stops_on_ctrl_c(sigint):
    # Its lines reach a pipe as they are printed, not when it exits (PYTHONUNBUFFERED or not).
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.emulator"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if sigint == "ignored" else None,
        env=_buffered_env(),
    )
    try:
        lines = _first_lines(process, 3)
        primary = lines[0].split()[1]
        ca_file = lines[2].split()[2]
        answer = requests.get(
            f"{primary}/rest/api/latest/projects", auth=("admin", "s3cret"), verify=ca_file, timeout=10
        )
        assert [p["key"] for p in answer.json()["values"]] == ["PLAT", "OPS", "DOCS"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # this test's own child: never left running
            process.wait()
            code = None
        assert code == 0, "Ctrl-C (SIGINT) stops it with exit status 0"


def _buffered_env() -> dict[str, str]:
    """The environment of a shell a user types in: output to a pipe is block-buffered."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _catches_sigint(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal disposition from /proc")
def test_ctrl_c_while_it_is_still_starting_stops_it_too():
    # Started ignoring SIGINT (nohup): Ctrl-C counts from the moment it takes SIGINT back, which is
    # before it has made its certificates and servers or printed a line; pressed then, it stops as
    # cleanly as while serving, with no traceback.
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.emulator"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
        env=_buffered_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while not _catches_sigint(process.pid):
            assert process.poll() is None and time.monotonic() < deadline, "it never took SIGINT back"
            time.sleep(0.0005)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()  # this test's own child: never left running
        out, err = process.communicate()
    assert "Traceback" not in err, err
    assert code == 0, "Ctrl-C (SIGINT) while starting stops it with exit status 0"
