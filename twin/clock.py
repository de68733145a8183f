"""Modelled time for the twin: a discrete-event scheduler whose processes are real threads.

Each engine step of the simulated `pulumi up` runs on a thread of its own (the thread the SDK's
RegisterResource call arrived on, or one the engine starts for a delete), but only one of them runs
at a time: a process holds the baton until it sleeps in modelled time or ends, and the scheduler
then wakes whichever process is due first (ties by name, so every run is the same). A provider's
poll every 5 s for ten minutes is 120 wake-ups and takes milliseconds.

The scheduler never moves the clock on while a registration it is owed has not arrived: the
program (the real `__main__.py`, on the SDK's event loop) registers a resource as soon as the steps
it depends on are done, and that registration must start at that modelled instant, not whenever the
event loop got to it. `owed()` tells it which are owed.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, Optional

ARRIVAL_TIMEOUT_S = 120.0  # real seconds: an owed registration that never comes is a twin bug


class Killed(BaseException):
    """The simulated `pulumi up` was killed: the process stops where it is (BaseException, so a
    provider's `except Exception` cannot swallow it)."""


class _Process:
    def __init__(self, name: str) -> None:
        self.name = name
        self.go = threading.Event()
        self.done = False


class Scheduler:
    """Modelled time for one twin: runs its processes one at a time, each until it sleeps, and moves
    the clock on to the next one due (never while a registration it is owed has not arrived)."""

    def __init__(self, owed: Callable[[], set[str]] = set) -> None:
        self.now = 0.0
        self.owed = owed
        self._cv = threading.Condition()
        self._ready: list[tuple[float, str, int, _Process]] = []
        self._seq = itertools.count()
        self._current: Optional[_Process] = None
        self._local = threading.local()
        self._killed = False
        self._live = 0
        self._director = threading.Thread(target=self._direct, name="twin-scheduler", daemon=True)
        self._stopped = False
        self.never_arrived: set[str] = set()
        # Processes started but not queued yet (threads the engine has just started): time waits for
        # them as for an owed registration, so what runs first never depends on thread start-up.
        self._expected: set[str] = set()
        # Called as (from, to) each time the clock moves on, with no process running: what goes on
        # in the world without the engine (clients cloning) is played over that interval.
        self.watchers: list[Callable[[float, float], None]] = []
        self.watcher_errors: list[BaseException] = []  # a twin bug, said by the deployment's result
        self._director.start()

    # --- called by processes -------------------------------------------------------------------
    def in_process(self) -> bool:
        return getattr(self._local, "process", None) is not None

    def expect(self, names: set[str]) -> None:
        """Processes of these names are about to `enter`: the clock waits until each has."""
        with self._cv:
            self._expected |= names

    def enter(self, name: str, at: Optional[float] = None) -> None:
        """The calling thread becomes a process, runnable at `at` (default: now); returns once it runs."""
        process = _Process(name)
        self._local.process = process
        with self._cv:
            self._expected.discard(name)
            self._live += 1
            self._queue(process, self.now if at is None else max(at, self.now))
            self._cv.notify_all()
        self._wait_for_turn(process)

    def sleep(self, seconds: float) -> None:
        process = self._local.process
        with self._cv:
            self._queue(process, self.now + max(0.0, seconds))
            self._current = None
            self._cv.notify_all()
        self._wait_for_turn(process)

    def leave(self) -> None:
        process = getattr(self._local, "process", None)
        if process is None:
            return
        self._local.process = None
        with self._cv:
            process.done = True
            self._live -= 1
            if self._current is process:
                self._current = None
            self._cv.notify_all()

    def kill(self) -> None:
        """A killed `pulumi up`: every other process stops at its next turn."""
        with self._cv:
            self._killed = True
            self._cv.notify_all()

    @property
    def killed(self) -> bool:
        return self._killed

    def revive(self) -> None:
        """After a killed deployment, when nothing runs any more: the next one starts afresh."""
        with self._cv:
            self._killed = False

    # --- called by the engine ------------------------------------------------------------------
    def notify(self) -> None:
        """Something the owed set depends on changed (a registration arrived or the program ended)."""
        with self._cv:
            self._cv.notify_all()

    def wait_idle(self) -> None:
        """Block until no process is runnable or running and nothing is owed."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        with self._cv:
            while self._live > 0 or self.owed() - self.never_arrived:
                if not self._cv.wait(timeout=1.0) and time.monotonic() > deadline:
                    self.never_arrived |= self.owed()
                if self._live > 0:
                    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._director.join(timeout=10)

    # --- internals -----------------------------------------------------------------------------
    def _queue(self, process: _Process, at: float) -> None:
        heapq.heappush(self._ready, (at, process.name, next(self._seq), process))

    def _wait_for_turn(self, process: _Process) -> None:
        process.go.wait()
        process.go.clear()
        if self._killed:
            self.leave()
            raise Killed()

    def _direct(self) -> None:
        started = time.monotonic()
        with self._cv:
            while not self._stopped:
                if self._current is not None or not self._ready:
                    self._cv.wait(timeout=1.0)
                    continue
                owed = (self.owed() | self._expected) - self.never_arrived
                if owed and not self._killed:
                    # A registration is owed: it must join the queue before time moves on.
                    if not self._cv.wait(timeout=1.0) and time.monotonic() - started > ARRIVAL_TIMEOUT_S:
                        # A twin bug (the program waits for something the plan does not show):
                        # said in the deployment's result, never a hang.
                        self.never_arrived |= owed
                    continue
                at, _, _, process = heapq.heappop(self._ready)
                if at > self.now:
                    for watch in self.watchers:
                        try:
                            watch(self.now, at)
                        except Exception as error:  # the director must go on: the up reports it
                            self.watcher_errors.append(error)
                self.now = max(self.now, at)
                self._current = process
                process.go.set()
                started = time.monotonic()
