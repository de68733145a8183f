"""A bug-fix upgrade of a 3-node farm through Pulumi's own provider host: one `zdu/start`, the
nodes strictly one after another (drained from a real elbv2 API, moto's, before their install;
back, healthy and listed on the new version, before the next leaves), one `zdu/end`, and never
fewer than two nodes serving. A failed node stops the rollout there; the next `up` resumes at it.

The install of a node (a pulumi-command SSH session on a real node) is played by the test: it
restarts the emulated node on the new version, which joins the farm only in upgrade mode."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer
from pulumi.runtime import proto

from tests.harness import run_program
from twin.provider_host.engine import Engine, ResourceState
from twin.provider_host.registration import _reveal, stack_config

from .conftest import PASSWORD

REGION = "eu-central-1"
OLD, NEW = "9.4.16", "9.4.17"
PROGRAM = Path(__file__).with_name("rollout_program.py")


@pytest.fixture
def aws():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto's state lives in the process: start empty
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    yield env, session.client("ec2", endpoint_url=endpoint), session.client("elbv2", endpoint_url=endpoint)
    server.stop()


class Farm:
    """The emulated farm, its moto load balancer, and what a user would see: who serves."""

    def __init__(self, emu, ec2, elbv2):
        self.emu, self.elbv2 = emu, elbv2
        self.mirror = emu.add_mirror("fra", nodes=3, mirror_type="FARM")
        emu.state.tick()
        emu.state.accept(self.mirror.request_id)
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        self.ec2 = ec2
        self.instances = [
            ec2.run_instances(
                ImageId=ami,
                MinCount=1,
                MaxCount=1,
                InstanceType="m6i.xlarge",
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Name", "Value": f"fra-node{i}"},
                            {"Key": "bitbucket-mirrors:site", "Value": "fra"},
                        ],
                    }
                ],
            )["Instances"][0]["InstanceId"]
            for i in range(3)
        ]
        self.groups = []
        for label, port in (("https", 7990), ("ssh", 7999)):
            arn = elbv2.create_target_group(
                Name=f"fra-{label}", Protocol="TCP", Port=port, VpcId=vpc, TargetType="instance"
            )["TargetGroups"][0]["TargetGroupArn"]
            elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": port} for i in self.instances])
            self.groups.append({"arn": arn, "port": port})
        self.events: list[str] = []
        self.fewest_serving = 3

    def config(self, version: str) -> dict:
        return {
            "mirrorUrl": self.mirror.url,
            "version": version,
            "caBundle": self.emu.ca_pem,
            "region": REGION,
            "targetGroups": self.groups,
            "nodes": [{"instanceId": i, "address": n.address} for i, n in zip(self.instances, self.mirror.farm_nodes)],
        }

    def serving(self) -> list[int]:
        """Nodes healthy in every target group and members of the farm: the ones clients reach."""
        healthy = [
            {
                d["Target"]["Id"]
                for d in self.elbv2.describe_target_health(TargetGroupArn=g["arn"])["TargetHealthDescriptions"]
                if d["TargetHealth"]["State"] == "healthy"
            }
            for g in self.groups
        ]
        return [
            i
            for i, (instance, node) in enumerate(zip(self.instances, self.mirror.farm_nodes))
            if all(instance in h for h in healthy) and node.joined
        ]

    def observe(self, event: str) -> None:
        self.events.append(event)
        self.fewest_serving = min(self.fewest_serving, len(self.serving()))

    def install(self, i: int, version: str, fails: bool = False) -> None:
        self.observe(f"install {i}")
        if fails:
            raise RuntimeError(f"install of node {i} failed")
        assert self.mirror.start_node(self.mirror.farm_nodes[i], version), f"node {i} could not join on {version}"


def registrations(farm: Farm, version: str) -> dict[str, dict]:
    run = run_program(config={"hosttest:rollout": json.dumps(farm.config(version))}, program=PROGRAM)
    return {r.name: {"urn": r.urn, "news": _reveal(r.wire_inputs)} for r in run.resources}


ORDER = (
    ["fra-upgrade"] + [f"fra-node{i}-{step}" for i in range(3) for step in ("drain", "return")] + ["fra-upgrade-finish"]
)


def step(engine: Engine, farm: Farm, state: dict[str, ResourceState], name: str, urn: str, news: dict) -> None:
    """One resource as the engine handles it in `pulumi up`: check, then create it or, when its diff
    has changes, update it (which the farm observes)."""
    old = state.get(name)
    inputs, failures = engine.check(urn, news, olds=old.inputs if old else {})
    assert failures == [], failures
    if old is None:
        state[name] = engine.create(urn, inputs)
    elif engine.diff(old, inputs).changes == proto.DiffResponse.DIFF_SOME:
        state[name] = engine.update(old, inputs)
        farm.observe(name)


def up(engine: Engine, farm: Farm, version: str, state: dict[str, ResourceState], failing_node=None) -> None:
    """What `pulumi up` does with these resources: each in dependency order, created or diffed and
    updated; a node's install runs between its drain and its return; the first failure stops it."""
    resources = registrations(farm, version)
    for name in ORDER:
        news = dict(resources[name]["news"])
        if name == "fra-upgrade-finish":
            # The window's outputs, resolved, as the engine hands them to the finish.
            news["kind"] = state["fra-upgrade"].outputs["kind"]
            news["zdu_started"] = state["fra-upgrade"].outputs.get("zdu_started")
        step(engine, farm, state, name, resources[name]["urn"], news)
        if name.endswith("-drain"):
            i = int(name.split("node")[1][0])
            digest = f"{version}-{i}"
            if state.get(f"installed-{i}") != digest:  # the install re-runs only for a new digest
                farm.install(i, version, fails=(i == failing_node))
                state[f"installed-{i}"] = digest


@pytest.fixture
def farm(emu, aws):
    env, ec2, elbv2 = aws
    return Farm(emu, ec2, elbv2), env


def started(start_host, env, emu, farm: Farm) -> Engine:
    engine = start_host(env=env)
    engine.configure(stack_config(emu, PASSWORD, farm.mirror.url))
    return engine


def zdu_calls(emu) -> tuple[int, int]:
    return (
        emu.stats.successful("POST", "/rest/mirroring/latest/zdu/start"),
        emu.stats.successful("POST", "/rest/mirroring/latest/zdu/end"),
    )


def test_a_bug_fix_upgrade_rolls_one_node_at_a_time(emu, farm, start_host):
    farm, env = farm
    state: dict[str, ResourceState] = {}
    engine = started(start_host, env, emu, farm)
    for i in range(3):
        state[f"installed-{i}"] = f"{OLD}-{i}"  # the farm as the first `up` left it
    up(engine, farm, OLD, state)
    farm.events.clear()

    up(started(start_host, env, emu, farm), farm, NEW, state)
    assert zdu_calls(emu) == (1, 1)
    assert farm.events == [
        "fra-upgrade",
        "fra-node0-drain",
        "install 0",
        "fra-node0-return",
        "fra-node1-drain",
        "install 1",
        "fra-node1-return",
        "fra-node2-drain",
        "install 2",
        "fra-node2-return",
        "fra-upgrade-finish",
    ]
    assert farm.fewest_serving >= 2
    assert {n.version for n in farm.mirror.farm_nodes} == {NEW} and farm.mirror.upgrade_mode is False
    assert farm.serving() == [0, 1, 2]


def test_a_failed_node_stops_the_rollout_and_the_next_up_resumes_there(emu, farm, start_host):
    farm, env = farm
    state: dict[str, ResourceState] = {f"installed-{i}": f"{OLD}-{i}" for i in range(3)}
    up(started(start_host, env, emu, farm), farm, OLD, state)
    farm.events.clear()

    with pytest.raises(RuntimeError, match="install of node 1 failed"):
        up(started(start_host, env, emu, farm), farm, NEW, state, failing_node=1)
    # Node 1 is out; nodes 0 (new version) and 2 (old) serve in mixed mode; upgrade mode stays on.
    assert farm.serving() == [0, 2] and farm.mirror.upgrade_mode is True
    assert [n.version for n in farm.mirror.farm_nodes] == [NEW, OLD, OLD]
    farm.events.clear()

    up(started(start_host, env, emu, farm), farm, NEW, state)
    assert farm.events == [
        "install 1",
        "fra-node1-return",
        "fra-node2-drain",
        "install 2",
        "fra-node2-return",
        "fra-upgrade-finish",
    ]  # node 0 is not touched again
    assert zdu_calls(emu) == (1, 1)  # still one start, and now the one end
    assert farm.serving() == [0, 1, 2] and farm.fewest_serving >= 2


def test_a_downgrade_is_refused_at_preview_naming_the_key(emu, farm, start_host):
    farm, env = farm
    state: dict[str, ResourceState] = {f"installed-{i}": f"{OLD}-{i}" for i in range(3)}
    engine = started(start_host, env, emu, farm)
    up(engine, farm, OLD, state)
    window = registrations(farm, "9.4.15")["fra-upgrade"]
    _, failures = engine.check(window["urn"], window["news"], olds=state["fra-upgrade"].inputs)
    assert failures and failures[0][0] == "version"
    assert "mirrors[1].bitbucketVersion: 9.4.15 is older than 9.4.16, which the nodes run" in failures[0][1]


def test_without_upgrade_mode_a_newer_node_cannot_join(emu, farm):
    farm, _ = farm
    assert farm.mirror.start_node(farm.mirror.farm_nodes[0], NEW) is False
    assert farm.serving() == [1, 2]


RESIZE = Path(__file__).with_name("instance_change_program.py")
RESIZE_ORDER = [f"fra-node{i}-{step}" for i in range(3) for step in ("drain", "instance-change", "return")]


def resize(engine: Engine, farm: Farm, instance_type: str, state: dict[str, ResourceState]) -> None:
    """`pulumi up` after an instanceType change: each node's drain, then its InstanceModification
    (stop, modify, start through boto3: EC2 changes a type only while stopped), then its return."""
    config = {**farm.config(OLD), "instanceType": instance_type}
    run = run_program(config={"hosttest:rollout": json.dumps(config)}, program=RESIZE)
    resources = {r.name: {"urn": r.urn, "news": _reveal(r.wire_inputs)} for r in run.resources}
    for name in RESIZE_ORDER:
        i = int(name.split("node")[1][0])
        if name.endswith("-instance-change"):
            types = farm.types()
        step(engine, farm, state, name, resources[name]["urn"], resources[name]["news"])
        if name.endswith("-instance-change") and farm.types()[i] != types[i]:
            assert i not in farm.serving(), f"node {i} stopped while the load balancer still sends it clients"
            farm.observe(f"changed {i}")


def _types(self: Farm) -> list[str]:
    described = self.ec2.describe_instances(InstanceIds=self.instances)["Reservations"]
    found = {i["InstanceId"]: i["InstanceType"] for r in described for i in r["Instances"]}
    return [found[i] for i in self.instances]


Farm.types = _types


def test_an_instance_type_change_stops_one_node_at_a_time_each_drained_first(emu, farm, start_host):
    farm, env = farm
    state: dict[str, ResourceState] = {}
    resize(started(start_host, env, emu, farm), farm, "m6i.xlarge", state)  # the farm as created
    assert farm.events == []

    resize(started(start_host, env, emu, farm), farm, "m6i.2xlarge", state)
    # One drain per node: drained, changed, back, before the next node leaves.
    assert farm.events == [
        step
        for i in range(3)
        for step in (f"fra-node{i}-drain", f"fra-node{i}-instance-change", f"changed {i}", f"fra-node{i}-return")
    ]
    assert farm.fewest_serving >= 2
    assert farm.types() == ["m6i.2xlarge"] * 3 and farm.serving() == [0, 1, 2]

    farm.events.clear()
    resize(started(start_host, env, emu, farm), farm, "m6i.2xlarge", state)  # nothing changed: nobody leaves
    assert farm.events == []


@pytest.mark.parametrize(
    "farm_of, new, says",
    [
        (
            True,
            "9.5.0",
            "mirrors[1].bitbucketVersion: 9.4.16 -> 9.5.0: every node stops; the mirror is unavailable "
            "until Bitbucket runs 9.5.0 on the first node (only bug-fix upgrades can roll)",
        ),
        (
            True,
            "9.4.17",
            "mirrors[1].bitbucketVersion: 9.4.16 -> 9.4.17 is a bug-fix upgrade: the farm upgrades one "
            "node at a time in upgrade mode and keeps serving",
        ),
        (
            False,
            "9.4.17",
            "mirrors[1].bitbucketVersion: 9.4.16 -> 9.4.17: the node upgrades in place; the mirror is "
            "unavailable until Bitbucket runs 9.4.17",
        ),
    ],
)
def test_preview_says_what_clients_will_notice_of_an_upgrade(emu, farm, start_host, farm_of, new, says):
    farm, env = farm
    engine = started(start_host, env, emu, farm)
    window = registrations(farm, OLD)["fra-upgrade"]
    old_inputs, _ = engine.check(window["urn"], {**window["news"], "farm": farm_of})
    assert old_inputs.get("impact") is None  # the first install: nothing to say
    news = {**registrations(farm, new)["fra-upgrade"]["news"], "farm": farm_of}
    inputs, failures = engine.check(window["urn"], news, olds=old_inputs)
    assert failures == [] and inputs["impact"] == says
    # On the host's console output when no engine takes warnings (tests/provider_host/test_warnings.py
    # has the engine's Log service): a warning where clients notice, a line of progress where not.
    line = f"bitbucket-mirrors: {says}" if farm_of and new == "9.4.17" else f"bitbucket-mirrors: warning: {says}"
    deadline = time.monotonic() + 5
    while line not in engine.host.stderr and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in engine.host.stderr
    assert zdu_calls(emu) == (0, 0)  # preview changes nothing


@pytest.mark.parametrize("seed", [3, 8])
def test_under_faults_the_upgrade_converges_over_reruns_and_never_takes_two_nodes_out(emu, farm, start_host, seed):
    from twin.emulator import Faults

    farm, env = farm
    state: dict[str, ResourceState] = {f"installed-{i}": f"{OLD}-{i}" for i in range(3)}
    up(started(start_host, env, emu, farm), farm, OLD, state)
    emu.set_faults(Faults(rate=0.4, kinds=("503", "429", "drop", "drop_after"), retry_after_s=1, seed=seed))
    failures = []
    for _ in range(10):  # what a user does after a failed `pulumi up`: run it again
        try:
            up(started(start_host, env, emu, farm), farm, NEW, state)
            break
        except Exception as exc:  # noqa: BLE001 - a failed run is what the loop is about
            failures.append(exc)
    else:
        pytest.fail(f"no run finished: {failures}")
    emu.set_faults(Faults())
    injected = [r for r in emu.log if r.status in (429, 503) and "/mirroring/latest/" in r.path]
    assert injected, "no fault reached the rollout's calls"
    assert farm.fewest_serving >= 2
    assert {n.version for n in farm.mirror.farm_nodes} == {NEW} and farm.mirror.upgrade_mode is False
    assert farm.serving() == [0, 1, 2]
    assert [e for e in farm.events if e.startswith("install")] == ["install 0", "install 1", "install 2"]
