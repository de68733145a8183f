"""Every call of Pulumi's dynamic-provider host on a thread of its own, so sites never queue.

The SDK's host (`python -m pulumi.dynamic`) serves all dynamic resources of a deployment from one
gRPC server whose thread pool has four workers, and a call holds its worker until it returns. An
approval waits for the mirror's request and a project selection for the sync (an hour on a large
primary), so with more than four sites the fifth site's calls would queue behind other sites'
waits, though nothing on AWS or Bitbucket requires it. On its first configure() in the host, a
provider gives that server an executor that runs each call on a new thread. (Raising the stock
pool's limit is not enough: its idle-thread count is only approximate, and with short calls
between the long ones it lets new calls queue while every thread is busy waiting.)

A thread lives as long as its call: there are as many as dynamic-resource operations in flight
(the engine runs at most one per resource at a time; a 10-site fleet has 180 such resources).
This replaces one private attribute (grpc's `_ServerState.thread_pool`, which grpc reads on
every call and only calls `submit` on); when it is missing the host keeps its pool and says so,
and `tests/provider_host/test_parallel_sites.py` fails, so an SDK or grpc upgrade cannot undo it
silently. BITBUCKET_MIRRORS_STOCK_HOST_POOL=1 keeps the SDK's pool (the benchmark's "before").
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from concurrent import futures
from typing import Any, Callable

STOCK_POOL_VARIABLE = "BITBUCKET_MIRRORS_STOCK_HOST_POOL"
_HOST_MODULE = "pulumi.dynamic.__main__"

_lock = threading.Lock()
_done = False


class ThreadPerCall(futures.Executor):
    """An executor that starts a thread for each call: a long wait never delays another call."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future:
        future: futures.Future = futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)

        threading.Thread(target=run, name="provider-call", daemon=True).start()
        return future


def in_provider_host() -> bool:
    main = sys.modules.get("__main__")
    return getattr(getattr(main, "__spec__", None), "name", None) == _HOST_MODULE


def _server_states() -> list[Any]:
    """The host's gRPC server state (grpc's own private class); none when grpc no longer has it."""
    try:
        from grpc import _server

        state_class = _server._ServerState
    except (ImportError, AttributeError):
        return []
    return [o for o in gc.get_objects() if isinstance(o, state_class)]


def unqueue_host_calls(say: Callable[[str], None]) -> None:
    """In the SDK's provider host, run every call on its own thread (once; no-op elsewhere)."""
    global _done
    if not in_provider_host() or os.environ.get(STOCK_POOL_VARIABLE) == "1":
        return
    with _lock:
        if _done:
            return
        _done = True
        states = [s for s in _server_states() if hasattr(s, "thread_pool")]
        if not states:
            say(
                "could not reach the provider host's thread pool: with more than four sites, some sites' "
                "approvals and syncs will wait for others to finish"
            )
            return
        for state in states:
            state.thread_pool = ThreadPerCall()
