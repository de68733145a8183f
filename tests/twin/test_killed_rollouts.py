"""An `up` killed after any step of any rollout converges on the next `up`, with nothing done twice
(issue #28 item 5). The bug-fix rollout of a farm is played at every step by test_scenarios.py; the
others are played here at one seeded step per rollout (each scenario is 5-15 s of real time: every step of all
of them would add about 30 minutes to the suite), and
at every step by benchmarks/killed_rollouts.py."""

from __future__ import annotations

import pytest

from tests.twin.conftest import report_of, settles
from twin.killed import KILLED_ROLLOUTS, killed, killed_sample, redone

# Rollouts whose row says clients notice nothing: a kill never takes more than one node out either.
ROLLING = {"farm3-os-image", "farm2-scale-2-3", "farm3-scale-3-2", "farm3-instance-type"}
SAMPLE = [
    s
    for base, steps in KILLED_ROLLOUTS.items()
    if base != "farm3-instance-type"
    for s in killed_sample(base, steps, count=1)
]
NODES = [f"iad-node{i}" for i in range(3)]
# Issue #28 item 3: an instance change inside the node's one drain, killed after every one of its steps.
SAMPLE += [killed("farm3-instance-type", k) for k in range(1, KILLED_ROLLOUTS["farm3-instance-type"] + 1)]


@pytest.mark.parametrize("base", sorted(KILLED_ROLLOUTS))
def test_each_rollouts_step_count_is_what_the_kill_points_are_drawn_from(scenario, base):
    steps = len(scenario(base)["steps"])
    assert steps == KILLED_ROLLOUTS[base], f"{base} has {steps} steps now: update twin/killed.py"


@pytest.mark.parametrize("killed", SAMPLE, ids=lambda s: s.name)
def test_a_killed_rollout_converges_on_the_next_up_and_does_nothing_twice(killed):
    report = report_of(killed)
    assert report["killed"]
    (again,) = report["then"]
    assert again["converged"], again["error"]
    for site in again["sites"].values():
        assert site["upgrade_mode_after"] is False and site["approved_after"]
        assert site["serving_after"] == site["nodes"] and len(set(site["versions_after"])) == 1
    assert report["converged_in_the_end"]
    settles(report)
    assert redone(report["steps"], again["steps"]) == [], "a node the killed up had finished changed again"
    base = killed.name.split("-killed-after-")[0]
    if base == "farm3-instance-type":  # each instance stopped once over both ups, none replaced
        stops = {n: sum(up["sites"]["iad"]["instances"][n]["stops"] for up in (report, again)) for n in NODES}
        assert stops == {n: 1 for n in NODES}, stops
        assert {i["type"] for i in again["sites"]["iad"]["instances"].values()} == {"m6i.4xlarge"}
        first = report["first_up"]["sites"]["iad"]["instances"]
        assert {n: i["id"] for n, i in again["sites"]["iad"]["instances"].items()} == {n: first[n]["id"] for n in NODES}
    if base in ROLLING:
        for up in (report, again):
            for site in up["sites"].values():
                assert site["min_serving"] >= min(site["nodes"], 2) - 1 and site["outage_s"] == 0


def test_redone_names_a_finished_nodes_second_drain_and_nothing_else():
    killed_up = [{"resource": "NodeReturn iad-node0-return", "operation": "update"}]
    resumed = [
        {"resource": "NodeDrain iad-node0-drain", "operation": "update"},
        {"resource": "NodeDrain iad-node1-drain", "operation": "update"},
        {"resource": "NodeReturn iad-node0-return", "operation": "update"},
        # A new address recorded (after a stop and start) runs nothing on the node ...
        {"resource": "Command iad-node0-stop-for-upgrade", "operation": "update"},
        # ... a stop-for-upgrade replaced runs it again.
        {"resource": "Command iad-node0-stop-for-upgrade", "operation": "replace"},
    ]
    assert redone(killed_up, resumed) == ["NodeDrain iad-node0-drain", "Command iad-node0-stop-for-upgrade"]
