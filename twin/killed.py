"""An `up` killed part-way through a rollout, then run again (issue #28 item 5).

The bug-fix rollout of a farm is played killed after every one of its steps by the suite
(twin.scenarios.kill_scenarios). The other rollouts are played here: every step in the benchmark
(benchmarks/killed_rollouts.py), a seeded sample of steps in the suite (tests/twin/test_killed_rollouts.py),
which keeps the suite's time in bounds (each scenario is 5-15 s of real time).

A step in flight when the `up` is killed is modelled as Pulumi leaves it (pulumi/pulumi at
1b5949891b3cefcb9974752b24a5ecef0acc86c8): a create is written to the checkpoint as a pending CREATE
before the provider is called and as a resource only once it answers (pkg/backend/snapshot.go,
SnapshotManager.doCreate), so the next `up` sees no old state and creates it again; non-interactively
it only warns about the pending operations (pkg/resource/deploy/deployment_executor.go,
printPendingOperationsWarning) and carries a pending CREATE into every later checkpoint until
`pulumi refresh --clear-pending-creates` or `--import-pending-creates` (pkg/backend/snapshot.go, the
snapshot's PendingOperations; pkg/cmd/pulumi/operations/refresh.go). The twin's engine keeps no
pending operation and prints no such warning: neither changes what a step does. What EC2 launched
for a killed create runs on (twin/world.py, World.launch): the node's drain ends it
(providers/orphans.py).
"""

from __future__ import annotations

import dataclasses
import random
import re

from .scenarios import SCENARIOS, Scenario

# The rollouts a killed `up` is played for beyond the bug-fix (issue #28 item 5): a base scenario, and
# how many steps its `up` has (tests/twin/test_killed_rollouts.py checks the counts).
KILLED_ROLLOUTS: dict[str, int] = {
    "single-bugfix": 11,
    "farm3-minor": 34,
    "farm3-display-name": 30,
    "farm3-os-image": 21,
    "farm2-scale-2-3": 25,
    "farm3-scale-3-2": 25,
    "farm3-instance-type": 18,
}


def killed(base: str, k: int) -> Scenario:
    """The base scenario's `up` killed after its k-th step, then the same config again."""
    scenario = SCENARIOS[base]
    assert not scenario.then and not scenario.refused, base
    return dataclasses.replace(scenario, name=f"{base}-killed-after-{k}", kill_after=k, then=("after",))


def killed_sample(base: str, steps: int, count: int = 2, seed: int = 28) -> list[Scenario]:
    """A seeded sample of `count` kill points of the base rollout (the suite's share; the benchmark
    benchmarks/killed_rollouts.py plays every one)."""
    rng = random.Random(f"{seed}:{base}")
    return [killed(base, k) for k in sorted(rng.sample(range(1, steps + 1), min(count, steps)))]


def redone(killed_up: list[dict], resumed: list[dict]) -> list[str]:
    """What the resumed `up` did again to a node the killed one had finished with: a node whose return
    completed is drained, stopped, changed or installed again (nothing a finished node needs twice)."""
    finished = {
        step["resource"].split(" ", 1)[1].rsplit("-", 1)[0]
        for step in killed_up
        if step["resource"].startswith("NodeReturn ") and not step.get("error")
    }
    again = []
    for step in resumed:
        kind, name = step["resource"].split(" ", 1)
        if step["operation"] not in ("update", "replace", "create") or only_addresses_recorded([step]):
            continue  # a new address recorded runs nothing on the node
        node = next((n for n in finished if name.startswith(f"{n}-")), None)
        if node is None:
            continue
        if (kind, name.removeprefix(node)) in DONE_ONCE:
            again.append(step["resource"])
    return again


# What the `up` after one that stopped and started nodes does (their type or user data changed):
# each node's new public address read from EC2 (InstanceStartReturn) and given to the commands that
# ran before its drain, whose update runs nothing on the node (components/node_command.py UNCHANGED).
ADDRESS_RECORDED = re.compile(
    r"^(InstanceStartReturn \S+-start-return|Command \S+-(preflight|retire|stop-for-upgrade))$"
)


def only_addresses_recorded(steps: list[dict]) -> bool:
    """Whether a further `up`'s steps do nothing but record the addresses a stop and start moved."""
    return all(s["operation"] == "update" and ADDRESS_RECORDED.match(s["resource"]) for s in steps)


# The steps that take a node out, or change it: each runs once per node per rollout.
DONE_ONCE = {
    ("NodeDrain", "-drain"),
    ("InstanceStopDrain", "-stop-drain"),
    ("RootVolumeReplacement", "-os-image"),
    ("InstanceModification", "-instance-change"),
    ("Command", "-install"),
    ("Command", "-stage"),
    ("Command", "-stop-for-upgrade"),
    ("Instance", "-instance"),
}
