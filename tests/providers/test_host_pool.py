"""The executor the provider host gets: every call on its own thread, results and errors delivered."""
from __future__ import annotations

import threading

import pytest

from providers import host_pool


def test_each_call_runs_on_its_own_thread_at_the_same_time():
    executor = host_pool.ThreadPerCall()
    release = threading.Event()
    started = threading.Barrier(9)   # eight calls and this test: all eight must be running at once

    def wait():
        started.wait(timeout=5)
        release.wait(timeout=5)
        return threading.current_thread().name

    calls = [executor.submit(wait) for _ in range(8)]
    started.wait(timeout=5)          # a pool of four would break this barrier
    release.set()
    assert all(c.result(timeout=5) == "provider-call" for c in calls)


def test_a_failing_call_reaches_its_caller():
    call = host_pool.ThreadPerCall().submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        call.result(timeout=5)


def test_outside_the_provider_host_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(host_pool, "_done", False)
    monkeypatch.setattr(host_pool, "_server_states", lambda: pytest.fail("looked for a server outside the host"))
    host_pool.unqueue_host_calls(lambda message: pytest.fail(message))
    assert host_pool._done is False
