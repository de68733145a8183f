"""How a node's wait on its load balancer goes (providers/targets.py, Targets._wait through
clock.poll_until), on modelled time, with the target states scripted: what the timeout's error names
when the node's groups disagree, and how often the wait says how it is doing."""

from __future__ import annotations

import pytest

from providers import clock
from providers.errors import RolloutError
from providers.targets import Targets

GROUPS = [{"arn": f"arn:tg/{label}", "port": port} for label, port in (("https", 7990), ("ssh", 7999), ("ext", 7991))]


def scripted(states: dict[str, str], **kw) -> tuple[Targets, list[float]]:
    """A node whose groups always answer `states` (ARN -> state), and the times it was looked at."""
    looks: list[float] = []
    targets = Targets("eu-west-1", "i-0123456789abcdef0", GROUPS, "syd-node1", **kw)

    def answer() -> dict[str, str]:
        looks.append(clock.now())
        return dict(states)

    targets.states = answer  # type: ignore[method-assign]
    return targets, looks


def test_a_wait_that_times_out_names_every_state_the_last_look_found_once_and_sorted(modelled):
    states = {"arn:tg/https": "unhealthy", "arn:tg/ssh": "initial", "arn:tg/ext": "unhealthy"}
    targets, looks = scripted(states, timeout_s=20, poll_s=5)
    with pytest.raises(RolloutError) as failed:
        targets.wait_healthy()
    assert str(failed.value).endswith("the other nodes keep serving (target states: initial, unhealthy)")
    assert str(failed.value).startswith("syd-node1 did not become healthy within 20s")
    assert looks == [0, 5, 10, 15, 20]  # one last look at the deadline, then the error


def test_the_wait_says_how_it_is_doing_every_progress_s_of_waiting_not_every_poll(modelled, capsys):
    states = {"arn:tg/https": "healthy", "arn:tg/ssh": "initial", "arn:tg/ext": "healthy"}
    targets, looks = scripted(states, timeout_s=100, poll_s=5, progress_s=40)
    with pytest.raises(RolloutError):
        targets.wait_healthy()
    lines = [line for line in capsys.readouterr().err.splitlines() if "waiting for" in line]
    assert len(looks) == 21
    assert [line.split("waiting for ", 1)[1] for line in lines] == [
        "syd-node1 to become healthy (40s of 100s; healthy, initial)",
        "syd-node1 to become healthy (80s of 100s; healthy, initial)",
    ]


def test_a_wait_ends_at_the_first_look_that_finds_it_done(modelled, capsys):
    states = {"arn:tg/https": "initial", "arn:tg/ssh": "initial", "arn:tg/ext": "initial"}
    targets, looks = scripted(states, timeout_s=100, poll_s=5)
    real = targets.states

    def healthy_at_15s() -> dict[str, str]:
        found = real()
        return {arn: "healthy" for arn in found} if clock.now() >= 15 else found

    targets.states = healthy_at_15s  # type: ignore[method-assign]
    targets.wait_healthy()
    assert looks == [0, 5, 10, 15] and modelled[0] == 15
    assert "syd-node1 is back in the load balancer" in capsys.readouterr().err
