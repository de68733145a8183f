"""The executor the provider host gets: every call on its own thread, results and errors delivered."""

from __future__ import annotations

import threading

import pytest

from providers import host_pool


def test_each_call_runs_on_its_own_thread_at_the_same_time():
    executor = host_pool.ThreadPerCall()
    release = threading.Event()
    started = threading.Barrier(9)  # eight calls and this test: all eight must be running at once

    def wait():
        started.wait(timeout=5)
        release.wait(timeout=5)
        return threading.current_thread().name

    calls = [executor.submit(wait) for _ in range(8)]
    started.wait(timeout=5)  # a pool of four would break this barrier
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


@pytest.mark.parametrize(
    "states",
    [
        lambda: [],  # grpc has no server state we recognise
        lambda: [object()],  # it has, without the thread_pool attribute
    ],
    ids=["no-server-state", "no-thread-pool"],
)
def test_in_the_host_without_grpcs_pool_the_stock_pool_stays_and_the_user_is_told(monkeypatch, states):
    said: list[str] = []
    monkeypatch.setattr(host_pool, "_done", False)
    monkeypatch.setattr(host_pool, "in_provider_host", lambda: True)
    monkeypatch.delenv(host_pool.STOCK_POOL_VARIABLE, raising=False)
    monkeypatch.setattr(host_pool, "_server_states", states)
    host_pool.unqueue_host_calls(said.append)  # never raises: configure() must not fail
    assert len(said) == 1 and "some sites' approvals and syncs will wait" in said[0]


def test_a_grpc_without_its_private_server_class_yields_no_state(monkeypatch):
    from grpc import _server

    monkeypatch.delattr(_server, "_ServerState")
    assert host_pool._server_states() == []


def test_in_the_host_each_server_gets_a_thread_per_call_once(monkeypatch):
    class State:
        thread_pool = "stock"

    state = State()
    monkeypatch.setattr(host_pool, "_done", False)
    monkeypatch.setattr(host_pool, "in_provider_host", lambda: True)
    monkeypatch.delenv(host_pool.STOCK_POOL_VARIABLE, raising=False)
    monkeypatch.setattr(host_pool, "_server_states", lambda: [state])
    host_pool.unqueue_host_calls(lambda message: pytest.fail(message))
    assert isinstance(state.thread_pool, host_pool.ThreadPerCall)
    state.thread_pool = "again"
    host_pool.unqueue_host_calls(lambda message: pytest.fail(message))
    assert state.thread_pool == "again"  # once per host process


def test_the_stock_pool_variable_keeps_the_sdks_pool(monkeypatch):
    monkeypatch.setattr(host_pool, "_done", False)
    monkeypatch.setattr(host_pool, "in_provider_host", lambda: True)
    monkeypatch.setenv(host_pool.STOCK_POOL_VARIABLE, "1")
    monkeypatch.setattr(host_pool, "_server_states", lambda: pytest.fail("the stock pool was asked for"))
    host_pool.unqueue_host_calls(lambda message: pytest.fail(message))
