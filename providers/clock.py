"""Time as the providers see it: every wait and every deadline goes through here.

One place, so that a wait can never outlive its deadline unnoticed, and so that the tests' twin of
`pulumi up` (twin/) can run the providers on modelled time: it replaces `now` and `sleep` for
the threads it simulates, and the providers' own polling then takes modelled seconds, not real ones.
"""

from __future__ import annotations

import time


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
