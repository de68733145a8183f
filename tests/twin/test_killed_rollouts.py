"""An `up` killed after any step of any rollout converges on the next `up`, with nothing done twice
(issue #28 item 5). The bug-fix rollout of a farm is played at every step by test_scenarios.py; the
others are played here at seeded steps (each scenario is 5-15 s of real time: every step of all of
them would add about 40 minutes to the suite), and at every step by benchmarks/killed_rollouts.py.
The instance change is played at three seeded steps; the scale-out at the step that kills it while
EC2 launches the new node's instance (read from an `up` that ran through), which the killed `up`
never records, and at two seeded others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.twin.conftest import report_of, settles
from twin.killed import KILLED_ROLLOUTS, killed, killed_sample, redone
from twin.twin import Twin

# Rollouts whose row says clients notice nothing: a kill never takes more than one node out either.
ROLLING = {"farm3-os-image", "farm2-scale-2-3", "farm3-scale-3-2", "farm3-instance-type"}
SAMPLE = [
    s
    for base, steps in KILLED_ROLLOUTS.items()
    if base != "farm3-instance-type"
    for s in killed_sample(base, steps, count=1)
]
NODES = [f"iad-node{i}" for i in range(3)]
# Issue #28 item 3: an instance change inside the node's one drain, killed at three seeded steps (its
# provider is killed after the stop and after the modify in tests/providers/test_instance_change.py).
SAMPLE += killed_sample("farm3-instance-type", KILLED_ROLLOUTS["farm3-instance-type"], count=3)


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


# A scale-out killed while EC2 launches the new node's instance, which the killed `up` never records
# (an orphan the next `up`'s drain of the node ends), and at two seeded other steps.
SCALE_OUT = "farm2-scale-2-3"
SCALE_OUT_POINTS = ("mid-launch", "sample-0", "sample-1")


def _instance_killed_mid_create(report: dict) -> bool:
    return any(
        s["resource"].startswith("Instance ") and s["operation"] == "create" and s.get("error") == "killed"
        for s in report["steps"]
    )


def _mid_launch(report: dict) -> int:
    """The kill point of an `up` that ran through at which its instance's create is running: the last
    change, in the order changes complete (how the engine counts them), that ends once the launch has
    begun and before it ends (the launch begins the moment the last of what it needs completes)."""
    changes = sorted((s for s in report["steps"] if s["operation"] != "same"), key=lambda s: s["end"])
    launch = next(s for s in changes if s["resource"].startswith("Instance ") and s["operation"] == "create")
    return max(k for k, s in enumerate(changes, 1) if launch["start"] <= s["end"] < launch["end"])


@pytest.fixture
def scale_out_killed(request, scenario):
    during = _mid_launch(scenario(SCALE_OUT))
    others = [k for k in range(1, KILLED_ROLLOUTS[SCALE_OUT] + 1) if k != during]
    sample = killed_sample(SCALE_OUT, len(others), count=2)
    points = {"mid-launch": during, **{f"sample-{i}": others[s.kill_after - 1] for i, s in enumerate(sample)}}
    return killed(SCALE_OUT, points[request.param])


@pytest.mark.parametrize("scale_out_killed", SCALE_OUT_POINTS, indirect=True)
def test_a_scale_out_killed_after_any_step_converges_with_one_instance_per_node(scale_out_killed):
    report = report_of(scale_out_killed)
    (again,) = report["then"]
    assert again["converged"] and report["converged_in_the_end"], again["error"]
    (site,) = again["sites"].values()
    assert site["nodes"] == 3, "instances of the site not terminated after the resumed up"
    assert site["serving_after"] == 3 and site["min_serving"] >= 2 and site["outage_s"] == 0
    assert redone(report["steps"], again["steps"]) == []
    if _instance_killed_mid_create(report):
        # What the killed up left: an instance with the new node's tags and no Bitbucket on it,
        # running beside the farm's two nodes until the resumed up ended it.
        (left,) = report["sites"].values()
        assert left["nodes"] == 3 and left["versions_after"].count(None) == 1 and left["serving_after"] == 2


@pytest.mark.parametrize("scale_out_killed", SCALE_OUT_POINTS[:1], indirect=True)
def test_the_mid_launch_kill_point_kills_the_scale_out_while_the_new_instance_is_created(scale_out_killed):
    assert _instance_killed_mid_create(report_of(scale_out_killed))


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


# A single node's first `up`, killed while EC2 launches its instance (a first `up` is where a lost CI
# runner most often strikes: it is the longest wait). The kill points are read from an `up` that ran
# through: the changes that complete after the instance's create started and before it ended.
SINGLE = Path(__file__).resolve().parents[2] / "twin" / "stacks" / "single-acm.yaml"


def _kills_mid_launch() -> list[int]:
    twin = Twin([SINGLE])
    try:
        changes = sorted((s for s in twin.up(SINGLE).steps if s.operation != "same"), key=lambda s: s.end)
    finally:
        twin.close()
    launch = next(s for s in changes if s.type == "aws:ec2/instance:Instance")
    during = [k for k, s in enumerate(changes, 1) if launch.start < s.end < launch.end]
    return [during[0], during[-1]]


@pytest.fixture(scope="module")
def first_up_killed_mid_launch() -> list[dict]:
    played = []
    for k in _kills_mid_launch():
        twin = Twin([SINGLE])
        try:
            killed_up = twin.up(SINGLE, kill_after=k)
            (site,) = twin._sites
            left = [i.id for i in twin.site_nodes(site)]
            again = twin.up(SINGLE)
            played.append(
                {
                    "k": k,
                    "launch": next(s for s in killed_up.steps if s.type == "aws:ec2/instance:Instance"),
                    "left": left,
                    "again": again,
                    "converged": twin.converged(site),
                    "after": [i.id for i in twin.site_nodes(site)],
                    "changes_then": twin.up(SINGLE).changes,
                }
            )
        finally:
            twin.close()
    return played


@pytest.mark.slow  # plays the twin
def test_a_first_up_killed_mid_launch_converges_with_one_instance(first_up_killed_mid_launch):
    for played in first_up_killed_mid_launch:
        assert played["launch"].error == "killed", played["k"]
        # The killed up left an instance that no state holds; the next up created the node's own
        # and ended that one.
        (orphan,) = played["left"]
        assert played["again"].error is None and played["converged"] and played["changes_then"] == 0
        assert len(played["after"]) == 1 and orphan not in played["after"]
