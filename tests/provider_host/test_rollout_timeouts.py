"""A node that does not drain in time, through Pulumi's own provider host (issue #23): the `up`
ends at that node's drain with what it waited for, within the node's timeout, and the node is
neither reinstalled nor stopped; the nodes before it are done, the ones after it untouched.

The farm, moto's load balancer and the engine's side are test_rolling_upgrade's. What moto does
not model is added here: a node whose deregistration never completes (a clone that runs on),
patched into moto's target groups, which serve the host from this process. The node's timeout is
2 s (the program registers 600; the engine hands the host whatever the program registered), and
the engine gives each call 30 s: a drain that never ends shows as a call that never returns."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from moto.elbv2.models import FakeTargetGroup
from pulumi.runtime import proto

from tests.harness import run_program
from twin.provider_host.engine import Engine, ResourceState
from twin.provider_host.registration import _reveal

# The farm and the engine's side of an `up`, as the rolling upgrade has them.
# pytest finds the rolling upgrade's fixtures by name in this module.
from .test_rolling_upgrade import (  # noqa: F401, E402
    NEW,
    OLD,
    ORDER,
    RESIZE,
    RESIZE_ORDER,
    Farm,
    aws,
    farm,
    registrations,
    started,
    up,
)

TIMEOUT_S = 2
CALL_S = 30


@pytest.fixture
def stuck(monkeypatch):
    """Instances whose targets, once deregistered, stay `draining` (the delay never expires)."""
    never_drained: set[str] = set()
    health_for = FakeTargetGroup.health_for

    def draining_for_ever(group, target, ec2_backend):
        status = health_for(group, target, ec2_backend)
        if target["Id"] in never_drained and target["Id"] in group.deregistered_targets:
            status.status, status.reason = "draining", "Target.DeregistrationInProgress"
            status.description = "Target deregistration is in progress"
        return status

    monkeypatch.setattr(FakeTargetGroup, "health_for", draining_for_ever)
    return never_drained


def step(engine: Engine, farm: Farm, state: dict[str, ResourceState], name: str, urn: str, news: dict) -> None:
    """test_rolling_upgrade's step, with the node's timeout shortened and a deadline on the call."""
    news = {**news, "timeout_s": TIMEOUT_S} if "timeout_s" in news else news
    old = state.get(name)
    inputs, failures = engine.check(urn, news, olds=old.inputs if old else {})
    assert failures == [], failures
    if old is None:
        state[name] = engine.create(urn, inputs, timeout=CALL_S)
    elif engine.diff(old, inputs).changes == proto.DiffResponse.DIFF_SOME:
        state[name] = engine.update(old, inputs, timeout=CALL_S)
        farm.observe(name)


def failed_call(call) -> tuple[grpc.RpcError, float]:
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        call()
    return failed.value, time.monotonic() - start


def test_a_node_that_does_not_drain_in_time_is_not_reinstalled_and_the_up_ends_saying_so(emu, farm, start_host, stuck):
    farm, env = farm
    state: dict[str, ResourceState] = {f"installed-{i}": f"{OLD}-{i}" for i in range(3)}
    up(started(start_host, env, emu, farm), farm, OLD, state)
    farm.events.clear()
    stuck.add(farm.instances[1])  # a long clone on node 1 that does not end

    engine = started(start_host, env, emu, farm)
    resources = registrations(farm, NEW)

    def upgrade() -> None:
        for name in ORDER:
            news = dict(resources[name]["news"])
            if name == "fra-upgrade-finish":
                news["kind"] = state["fra-upgrade"].outputs["kind"]
                news["zdu_started"] = state["fra-upgrade"].outputs.get("zdu_started")
            step(engine, farm, state, name, resources[name]["urn"], news)
            if name.endswith("-drain"):
                i = int(name.split("node")[1][0])
                farm.install(i, NEW)

    error, took = failed_call(upgrade)
    assert error.code() != grpc.StatusCode.DEADLINE_EXCEEDED, f"the drain never ended ({took:.0f}s)"
    assert (
        "fra-node1 did not drain within 2s; long git operations may still run on it (raise the deregistration "
        "delay's patience with the timeout, or wait and run `pulumi up` again) (target states: draining)"
    ) in error.details()
    assert took < TIMEOUT_S + 10
    # The up stopped there: node 0 done, node 1 neither reinstalled nor stopped (its clone goes on),
    # node 2 untouched and serving, upgrade mode still on for the next `up`.
    assert farm.events == ["fra-upgrade", "fra-node0-drain", "install 0", "fra-node0-return"]
    node1 = farm.mirror.farm_nodes[1]
    assert node1.version == OLD and node1.joined
    assert [n.version for n in farm.mirror.farm_nodes] == [NEW, OLD, OLD] and farm.mirror.upgrade_mode is True
    assert farm.serving() == [0, 2]


def test_a_node_that_does_not_drain_in_time_is_not_stopped_for_its_instance_change(emu, farm, start_host, stuck):
    farm, env = farm
    state: dict[str, ResourceState] = {}

    def resize(instance_type: str) -> None:
        engine = started(start_host, env, emu, farm)
        config = {**farm.config(OLD), "instanceType": instance_type}
        run = run_program(config={"hosttest:rollout": json.dumps(config)}, program=RESIZE)
        resources = {r.name: {"urn": r.urn, "news": _reveal(r.wire_inputs)} for r in run.resources}
        for name in RESIZE_ORDER:
            step(engine, farm, state, name, resources[name]["urn"], resources[name]["news"])

    resize("m6i.xlarge")  # the farm as created
    stuck.add(farm.instances[1])
    error, took = failed_call(lambda: resize("m6i.2xlarge"))
    assert error.code() != grpc.StatusCode.DEADLINE_EXCEEDED, f"the drain never ended ({took:.0f}s)"
    assert "fra-node1 did not drain within 2s" in error.details() and "(target states: draining)" in error.details()
    assert took < TIMEOUT_S + 10
    assert farm.events == ["fra-node0-drain", "fra-node0-instance-change", "fra-node0-return"]
    described = farm.ec2.describe_instances(InstanceIds=farm.instances)["Reservations"]
    found = {i["InstanceId"]: (i["InstanceType"], i["State"]["Name"]) for r in described for i in r["Instances"]}
    assert [found[i] for i in farm.instances] == [
        ("m6i.2xlarge", "running"),
        ("m6i.xlarge", "running"),
        ("m6i.xlarge", "running"),
    ]
    assert farm.mirror.farm_nodes[1].joined  # Bitbucket still runs on node 1
    assert farm.serving() == [0, 2]
