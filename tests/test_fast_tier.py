"""The fast tier (`scripts/test.sh --fast`) holds only tests that start no process, open no socket and
run no program: a test that does is refused there, naming itself, instead of slowing the tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

IMPURE = """
import socket
import subprocess

from twin.program import run_program


def test_starts_a_process():
    subprocess.run(["true"], check=True)


def test_opens_a_connection():
    socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_runs_the_program():
    run_program()


def test_is_pure():
    assert sum([1, 2]) == 3
"""


@pytest.mark.slow  # runs pytest in a process
@pytest.mark.parametrize("fast", [True, False])
def test_the_fast_tier_refuses_a_test_that_is_not_pure(tmp_path, fast):
    probe = tmp_path / "test_probe.py"
    probe.write_text(IMPURE)
    env = {**os.environ, "BITBUCKET_MIRRORS_FAST_TIER": "1" if fast else "0", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest"]
    ran = subprocess.run(
        [*command, "-m", "not slow", "--rootdir", str(tmp_path), str(probe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = ran.stdout
    if fast:
        assert "3 failed, 1 passed" in out, out
        for what in ("starts a process", "opens a connection", "runs the program"):
            assert f"{what}: mark it slow" in out
    else:
        # Outside the fast tier nothing is refused (the connection to a closed port fails on its own).
        assert "mark it slow" not in out


def test_slow_modules_and_fixtures_are_marked_and_the_rest_is_not():
    from tests.conftest import is_slow

    class Item:
        def __init__(self, nodeid: str, fixturenames: tuple[str, ...] = ()) -> None:
            self.nodeid, self.fixturenames = nodeid, fixturenames

    assert is_slow(Item("tests/provider_host/test_lifecycle.py::test_x"))
    assert is_slow(Item("tests/twin/test_scenarios.py::test_x[farm3-bugfix]"))
    assert is_slow(Item("tests/stack_config/test_model.py::test_x", ("runs",)))
    assert not is_slow(Item("tests/stack_config/test_model.py::test_x", ("tmp_path",)))
    assert not is_slow(Item("tests/twin/test_clients.py::test_x"))
