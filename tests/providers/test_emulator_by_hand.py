"""`python -m tests.emulator` serves a primary and a mirror for trying the providers by hand."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# "ignored": started as from nohup or a background job, whose children inherit SIGINT ignored.
@pytest.mark.parametrize("sigint", ["inherited", "ignored"])
def test_runs_by_hand_and_stops_on_ctrl_c(sigint):
    process = subprocess.Popen([sys.executable, "-m", "tests.emulator"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               preexec_fn=_ignore_sigint if sigint == "ignored" else None)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        primary = lines[0].split()[1]
        ca_file = lines[2].split()[2]
        answer = requests.get(f"{primary}/rest/api/latest/projects", auth=("admin", "s3cret"), verify=ca_file, timeout=10)
        assert [p["key"] for p in answer.json()["values"]] == ["PLAT", "OPS", "DOCS"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()   # this test's own child: never left running
            process.wait()
            code = None
        assert code == 0, "Ctrl-C (SIGINT) stops it with exit status 0"
