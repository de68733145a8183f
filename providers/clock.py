"""Time as the providers see it: every wait and every deadline goes through here.

One place, so that a wait can never outlive its deadline unnoticed, and so that the tests' twin of
`pulumi up` (twin/) can run the providers on modelled time: it replaces `now` and `sleep` for
the threads it simulates, and the providers' own polling then takes modelled seconds, not real ones.
"""

from __future__ import annotations

import time
from typing import Callable, Generic, Optional, TypeVar, Union


def now() -> float:
    return time.monotonic()


def sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class Deadline:
    """A wait's end: `remaining` tells a poll how long it may still sleep or wait for an answer."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = now()

    @property
    def elapsed(self) -> float:
        return now() - self.start

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed)

    @property
    def passed(self) -> bool:
        return self.elapsed >= self.seconds

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds`, but never past the deadline."""
        sleep(min(seconds, self.remaining))

    def within(self, seconds: float) -> "Deadline":
        """A deadline `seconds` from now, or this one if it comes first (one call of a longer wait)."""
        return Deadline(min(seconds, self.remaining))


T = TypeVar("T")
S = TypeVar("S")


class NotYet(Generic[S]):
    """What a poll's attempt returns while the wait goes on: `seen`, what it found instead (handed to
    the progress line and to the timeout's error, so both name the last thing the wait saw)."""

    __slots__ = ("seen",)

    def __init__(self, seen: S = None) -> None:  # type: ignore[assignment]
        self.seen = seen


def poll_until(
    deadline: Deadline,
    attempt: Callable[[], Union[T, NotYet[S]]],
    *,
    every: float,
    timed_out: Callable[[S], BaseException],
    progress: Optional[Callable[[S], None]] = None,
    progress_every: float = 30.0,
    report_first: bool = False,
) -> T:
    """The one wait of the providers: `attempt` until it returns anything but NotYet (returned), then
    `timed_out(seen)` raised once the deadline has passed after an attempt (so the last attempt comes
    at the deadline, not before it). Between attempts it sleeps `every` seconds (never past the
    deadline) and calls `progress(seen)` every `progress_every` seconds of waiting: the first time
    after `progress_every` seconds, or at the first round that does not succeed with `report_first`.
    An attempt raises what cannot get better by waiting; anything it catches, it returns as NotYet."""
    last_report = -progress_every if report_first else 0.0
    while True:
        found = attempt()
        if not isinstance(found, NotYet):
            return found
        if deadline.passed:
            raise timed_out(found.seen)
        if progress is not None and deadline.elapsed - last_report >= progress_every:
            last_report = deadline.elapsed
            progress(found.seen)
        deadline.sleep(every)
