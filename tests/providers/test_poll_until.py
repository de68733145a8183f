"""providers.clock.poll_until, the one wait every provider polls with, on modelled time: when it
returns, when it gives up and with what, how often it says it is still waiting."""

from __future__ import annotations

import pytest

from providers import clock


def test_returns_what_the_first_attempt_that_is_not_notyet_returns_none_included(modelled):
    answers = iter([clock.NotYet("starting"), clock.NotYet("starting"), None])
    assert clock.poll_until(clock.Deadline(60), lambda: next(answers), every=1, timed_out=RuntimeError) is None
    assert modelled[0] == 2  # two sleeps of one poll each, then the answer


def test_the_timeout_names_what_the_last_attempt_saw_and_comes_after_an_attempt_at_the_deadline(modelled):
    seen: list[float] = []

    def attempt():
        seen.append(modelled[0])
        return clock.NotYet(f"state at {modelled[0]:.0f}s")

    with pytest.raises(RuntimeError, match="state at 10s"):
        clock.poll_until(clock.Deadline(10), attempt, every=3, timed_out=RuntimeError)
    assert seen == [0, 3, 6, 9, 10]  # the last sleep stops at the deadline, one last look there


def test_progress_every_n_seconds_of_waiting_not_every_poll(modelled):
    lines: list[float] = []
    answers = iter([clock.NotYet()] * 100 + ["done"])
    found = clock.poll_until(
        clock.Deadline(1000),
        lambda: next(answers),
        every=5,
        timed_out=RuntimeError,
        progress=lambda _: lines.append(modelled[0]),
    )
    assert found == "done"
    assert lines == [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360, 390, 420, 450, 480]


def test_report_first_says_it_at_the_first_round_then_every_n_seconds(modelled):
    lines: list[float] = []
    answers = iter([clock.NotYet()] * 10 + [1])
    clock.poll_until(
        clock.Deadline(100),
        lambda: next(answers),
        every=5,
        timed_out=RuntimeError,
        progress=lambda _: lines.append(modelled[0]),
        progress_every=20,
        report_first=True,
    )
    assert lines == [0, 20, 40]


def test_an_attempt_that_raises_ends_the_wait_at_once(modelled):
    def attempt():
        raise ValueError("cannot get better by waiting")

    with pytest.raises(ValueError):
        clock.poll_until(clock.Deadline(100), attempt, every=1, timed_out=RuntimeError)
    assert modelled[0] == 0
