"""What the rollout steps decide, and how their waits end, on modelled time (issue #23).

The steps are the program's own registrations (`twin/stacks/farm-3.yaml` and `single-acm.yaml` run
under the mocks), pointed at this test's world: the emulator's mirror farm, and moto's EC2 and
elbv2 with what moto does not model added (a deregistered target drains for the deregistration
delay, or for ever while a clone runs on; a registered target may fail its health checks). Time is
modelled: `providers.clock` and the emulator read one clock, every sleep passes at once and moves it
on, so a 600 s wait takes no real time. A wait that would never end is cut off by the clock and
reported as such (`NeverEnds`), instead of hanging the suite.

What a user would notice is what is asserted: the message `pulumi up` ends with and when, the lines
of progress it prints, whether the load balancer sent clients to a node the farm did not list yet,
whether a serving node was taken out, whether upgrade mode was left on.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

import boto3
import pytest
from moto.elbv2.models import FakeTargetGroup

import providers.clock
from providers.errors import RolloutError
from providers.node_idle import SETTLE_S, NodeConnections
from providers.node_rollout import (
    InstanceStartReturnProvider,
    InstanceStopDrainProvider,
    NodeDrainProvider,
    NodeReturnProvider,
)
from providers.upgrade import UpgradeFinishProvider, UpgradeWindowProvider
from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from twin.emulator import Emulator

from .conftest import PASSWORD

OLD, NEW, MINOR = "9.4.16", "9.4.17", "9.5.0"
ZDU_END = "/rest/mirroring/latest/zdu/end"
ZDU_START = "/rest/mirroring/latest/zdu/start"
# More sleeps than any wait here needs (600 s at 5 s a poll is 120): a wait still going after this
# many never ends (a loop that no longer sleeps, because its deadline has passed, counts too).
SLEEP_LIMIT = 500


class NeverEnds(BaseException):
    """A wait that would have gone on for ever (a BaseException: no provider's `except` takes it)."""


class ModelledTime:
    """`providers.clock` on modelled seconds, with events that happen when time passes them."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps = 0
        self._events: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps > SLEEP_LIMIT:
            raise NeverEnds(f"still waiting after {self.sleeps} sleeps, at {self.t:.0f}s modelled")
        self.t += max(seconds, 0.0)
        for event in [e for e in self._events if e[0] <= self.t]:
            self._events.remove(event)
            event[1]()

    def at(self, t: float, event: Callable[[], None]) -> None:
        self._events.append((t, event))


@pytest.fixture
def clock(monkeypatch) -> ModelledTime:
    modelled = ModelledTime()
    monkeypatch.setattr(providers.clock, "now", modelled.now)
    monkeypatch.setattr(providers.clock, "sleep", modelled.sleep)
    return modelled


@pytest.fixture
def emu(clock):
    with Emulator(password=PASSWORD, clock=clock.now) as emulator:
        yield emulator


# --- the program's registrations ----------------------------------------------------------------
def _program(stack: str, **site) -> ProgramRun:
    config, secret_keys = stack_file_config(STACKS / stack)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0].update(site)
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


def _inputs(run: ProgramRun, name: str) -> dict[str, Any]:
    (found,) = [r for r in run.resources if r.name == name and r.custom]
    return {k: v for k, v in found.inputs.items() if k != "__provider"}


@pytest.fixture(scope="module")
def farm3() -> dict[str, ProgramRun]:
    """farm-3.yaml as it is (9.4.16), at a bug-fix upgrade and at a minor one."""
    return {
        OLD: _program("farm-3.yaml"),
        NEW: _program("farm-3.yaml", bitbucketVersion=NEW),
        MINOR: _program("farm-3.yaml", bitbucketVersion=MINOR),
    }


# --- the world: the emulator's farm behind moto's load balancer ---------------------------------
# The world's own clients come from one session for the module: moto's mock starts every test with
# a fresh default session, which would read EC2's service model (seconds) again for each.
_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


class World:
    """A 3-node farm `iad` (its nodes on 9.4.16, approved), three EC2 instances registered healthy
    in two target groups (7990, 7999), and the load balancer's behaviour that moto leaves out:
    `delay_s` of draining after a deregistration, for ever for a node in `stuck` (a clone that runs
    on), and failing health checks for a node in `unhealthy`. `registered` records every
    RegisterTargets as (modelled second, node, the version the farm listed the node on then)."""

    def __init__(self, emu: Emulator, clock: ModelledTime, monkeypatch, region: str, nodes: int = 3) -> None:
        self.emu, self.clock, self.region = emu, clock, region
        self.mirror = emu.add_mirror("iad", nodes=nodes, mirror_type="FARM")
        emu.state.tick()
        emu.state.accept(self.mirror.request_id)
        self.ec2 = _SESSION.client("ec2", region_name=region)
        self.elbv2 = _SESSION.client("elbv2", region_name=region)
        self.image = "ami-0123456789abcdef0"  # moto does not check it (and loads no image list: seconds)
        self.vpc = self.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        self.instances = [self.launch(f"iad-node{i}") for i in range(nodes)]
        self.groups = []
        for label, port in (("https", 7990), ("ssh", 7999)):
            arn = self.elbv2.create_target_group(
                Name=f"iad-{label}", Protocol="TCP", Port=port, VpcId=self.vpc, TargetType="instance"
            )["TargetGroups"][0]["TargetGroupArn"]
            self.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": port} for i in self.instances])
            self.groups.append({"arn": arn, "port": port})
        self.delay_s = 0.0
        self.stuck: set[str] = set()
        self.unhealthy: set[str] = set()
        self.registered: list[tuple[float, int, Optional[str]]] = []
        self.deregistered: list[tuple[float, str]] = []
        self.clones_until: dict[str, float] = {}  # a clone on the instance ends then (its target stays draining)
        # Whether a clone runs on a draining node for all of `delay_s` (else: `clones_until` says).
        self.delay_is_a_clone = True
        self.idle_answer: Optional[int] = 0  # what an idle node's `ss` says (None: it cannot be asked)
        self._deregistered_at: dict[str, float] = {}
        self._patch(monkeypatch)

    def launch(self, name: str) -> str:
        return self.ec2.run_instances(
            ImageId=self.image,
            MinCount=1,
            MaxCount=1,
            InstanceType="m6i.2xlarge",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Instances"][0]["InstanceId"]

    def _patch(self, monkeypatch) -> None:
        world = self
        health_for, register, deregister = (
            FakeTargetGroup.health_for,
            FakeTargetGroup.register,
            FakeTargetGroup.deregister,
        )

        def modelled_health(group, target, ec2_backend):
            status = health_for(group, target, ec2_backend)
            instance = target["Id"]
            if instance in group.deregistered_targets and (
                instance in world.stuck or world.clock.t < world._deregistered_at.get(instance, 0.0) + world.delay_s
            ):
                status.status, status.reason = "draining", "Target.DeregistrationInProgress"
                status.description = "Target deregistration is in progress"
            elif instance in group.targets and instance in world.unhealthy and status.status == "healthy":
                status.status, status.reason = "unhealthy", "Target.FailedHealthChecks"
                status.description = "Health checks failed"
            return status

        def recorded_register(group, targets):
            register(group, targets)
            for target in targets:
                if target["Id"] in world.instances and group.arn == world.groups[0]["arn"]:
                    i = world.instances.index(target["Id"])
                    node = world.mirror.farm_nodes[i]
                    listed = node.version if node.listed(world.clock.t) else None
                    world.registered.append((world.clock.t, i, listed))

        def recorded_deregister(group, targets):
            deregister(group, targets)
            for target in targets:
                world._deregistered_at[target["Id"]] = world.clock.t
                if group.arn == world.groups[0]["arn"]:
                    world.deregistered.append((world.clock.t, target["Id"]))

        def connections(asked: NodeConnections) -> Optional[int]:
            """What the node's `ss` shows (moto runs no command): the clone that keeps a target
            draining is a client connection on the node until the target's delay ends."""
            instance = asked.instance_id
            draining_since = world._deregistered_at.get(instance)
            if instance in world.stuck or world.clock.t < world.clones_until.get(instance, 0.0):
                return 1
            if world.delay_is_a_clone and draining_since is not None and world.clock.t < draining_since + world.delay_s:
                return 1
            return world.idle_answer

        monkeypatch.setattr(NodeConnections, "count", connections)
        monkeypatch.setattr(FakeTargetGroup, "health_for", modelled_health)
        monkeypatch.setattr(FakeTargetGroup, "register", recorded_register)
        monkeypatch.setattr(FakeTargetGroup, "deregister", recorded_deregister)

    def states(self, instance: str) -> list[str]:
        return [
            self.elbv2.describe_target_health(TargetGroupArn=g["arn"], Targets=[{"Id": instance, "Port": g["port"]}])[
                "TargetHealthDescriptions"
            ][0]["TargetHealth"]["State"]
            for g in self.groups
        ]

    def take_out(self, i: int) -> None:
        """Node i as a drain left it: out of every target group (its connections finished)."""
        for g in self.groups:
            self.elbv2.deregister_targets(
                TargetGroupArn=g["arn"], Targets=[{"Id": self.instances[i], "Port": g["port"]}]
            )
        self.deregistered.clear()

    def pointed(self, inputs: dict[str, Any], i: int) -> dict[str, Any]:
        """The program's inputs for node i with this world's instance, groups, mirror and address."""
        return {
            **inputs,
            "instance_id": self.instances[i],
            "target_groups": self.groups,
            "mirror_url": self.mirror.url,
            "address": self.mirror.farm_nodes[i].address,
            "ca_bundle": self.emu.ca_pem,
            "region": self.region,
        }


@pytest.fixture
def world(emu, clock, monkeypatch, farm3, moto_env):
    yield World(emu, clock, monkeypatch, _inputs(farm3[OLD], "iad-node1-drain")["region"])


def progress(err: str, what: str) -> list[int]:
    """The modelled seconds at which a wait said how it is doing."""
    return [int(m.group(1)) for m in re.finditer(rf"waiting for {what} \((\d+)s of", err)]


EVERY_30_S = list(range(30, 600, 30))  # a 600 s wait: at 30 s, 60 s, ... 570 s, then its end


def drain_update(world: World, farm3, i: int = 1) -> tuple[dict, dict]:
    """NodeDrain's olds and news for an upgrade of node i: the install digest changes."""
    olds = {**world.pointed(_inputs(farm3[OLD], f"iad-node{i}-drain"), i), "drains": 0}
    news = world.pointed(_inputs(farm3[NEW], f"iad-node{i}-drain"), i)
    assert olds["install_digest"] != news["install_digest"]
    return olds, news


# --- a drain that does not finish --------------------------------------------------------------
def test_a_node_that_does_not_drain_within_its_timeout_ends_the_up_there_saying_so(world, farm3, clock):
    world.stuck.add(world.instances[1])  # a clone that never ends keeps it draining
    olds, news = drain_update(world, farm3)
    with pytest.raises(RolloutError) as failed:
        NodeDrainProvider().update("drain-x", olds, news)
    assert str(failed.value) == (
        "iad-node1 did not drain within 600s; long git operations may still run on it (raise the deregistration "
        "delay's patience with the timeout, or wait and run `pulumi up` again) (target states: draining)"
    )
    assert clock.t == 600  # at its timeout, not before and not never
    assert world.states(world.instances[0]) == world.states(world.instances[2]) == ["healthy", "healthy"]


def test_the_drain_says_how_it_is_doing_every_30_seconds(world, farm3, clock, capsys):
    world.stuck.add(world.instances[1])
    olds, news = drain_update(world, farm3)
    with pytest.raises(RolloutError):
        NodeDrainProvider().update("drain-x", olds, news)
    err = capsys.readouterr().err
    assert progress(err, "iad-node1 to drain") == EVERY_30_S, err
    assert "waiting for iad-node1 to drain (30s of 600s; draining)" in err


def test_a_drain_waits_out_the_deregistration_delay_and_then_ends(world, farm3, clock, capsys):
    world.delay_s = 75  # a long clone finishing
    olds, news = drain_update(world, farm3)
    out = NodeDrainProvider().update("drain-x", olds, news).outs
    assert out["drains"] == 1 and 75 <= clock.t < 75 + NodeDrainProvider.poll_s + 1
    assert world.states(world.instances[1]) == ["unused", "unused"]
    err = capsys.readouterr().err
    assert progress(err, "iad-node1 to drain") == [30, 60]
    assert "iad-node1 is out of the load balancer (connections drained)" in err


def test_a_drain_ends_once_the_node_has_served_no_client_for_the_settle_time_not_at_the_delay(
    world, farm3, clock, capsys
):
    """Issue #29: the deregistration delay (300 s) is the upper bound, not the wait: the last clone on
    the node ends at 40 s, and 10 s later (the settle time) the node leaves, still `draining`."""
    world.delay_s, world.delay_is_a_clone = 300, False
    world.clones_until[world.instances[1]] = 40
    olds, news = drain_update(world, farm3)
    out = NodeDrainProvider().update("drain-x", olds, news).outs
    assert out["drains"] == 1
    assert 40 + SETTLE_S <= clock.t <= 40 + SETTLE_S + NodeDrainProvider.poll_s
    assert world.states(world.instances[1]) == ["draining", "draining"]
    assert "iad-node1 has served no client for 10s" in capsys.readouterr().err


def test_a_clone_that_runs_on_keeps_the_drain_waiting_until_its_end(world, farm3, clock):
    world.delay_s, world.delay_is_a_clone = 300, False
    world.clones_until[world.instances[1]] = 250  # a long clone: never cut
    olds, news = drain_update(world, farm3)
    NodeDrainProvider().update("drain-x", olds, news)
    assert 250 + SETTLE_S <= clock.t <= 250 + SETTLE_S + NodeDrainProvider.poll_s


def test_a_node_that_cannot_be_asked_is_drained_by_the_deregistration_delay(world, farm3, clock):
    world.delay_s, world.delay_is_a_clone = 75, False
    world.idle_answer = None  # no SSM agent online, a failed command, an output cut short
    olds, news = drain_update(world, farm3)
    NodeDrainProvider().update("drain-x", olds, news)
    assert 75 <= clock.t < 75 + NodeDrainProvider.poll_s + 1
    assert world.states(world.instances[1]) == ["unused", "unused"]


def test_without_a_load_balancer_to_tell_health_checks_apart_the_drain_waits_for_unused(world, farm3, clock):
    world.delay_s, world.delay_is_a_clone = 75, False
    olds, news = drain_update(world, farm3)
    NodeDrainProvider().update("drain-x", olds, {**news, "load_balancer": None})
    assert 75 <= clock.t < 75 + NodeDrainProvider.poll_s + 1


# --- a drain that must, and drains that must not, happen ---------------------------------------
def test_a_replaced_instance_with_an_unchanged_install_is_drained_before_it_goes(world, farm3, clock):
    """A new instance (a new AMI pinned, another subnet): the install digest is the same, the
    instance is not. The one that serves now is the old one; it is drained before the engine
    deletes it, so no clone running on it is cut off."""
    world.delay_s = 40
    inputs = _inputs(farm3[OLD], "iad-node1-drain")
    olds = {**world.pointed(inputs, 1), "drains": 0}
    replacement = world.launch("iad-node1")
    news = {**world.pointed(inputs, 1), "instance_id": replacement}
    provider = NodeDrainProvider()
    assert provider.diff("drain-x", olds, news).changes is True
    out = provider.update("drain-x", olds, news).outs
    assert world.deregistered == [(0.0, world.instances[1])]  # the old instance, the one serving
    assert clock.t >= 40 and world.states(world.instances[1]) == ["unused", "unused"]
    assert out["drains"] == 1 and out["instance_id"] == replacement


@pytest.mark.parametrize(
    "key, value",
    [
        ("warn_to", "urn:pulumi:prod::bitbucket-mirrors::site::iad"),
        ("node", "iad-node1-renamed"),
        ("timeout_s", 1200),
        ("nodes", 4),
    ],
)
@pytest.mark.parametrize("state", ["current", "before-os-image-was-tracked"])
def test_an_unrelated_input_change_never_drains_a_serving_node(world, farm3, clock, key, value, state):
    inputs = world.pointed(_inputs(farm3[OLD], "iad-node1-drain"), 1)
    olds = {**inputs, "drains": 2}
    if state != "current":
        del olds["os_image"]  # a state written before osImage was tracked: recorded, never a drain
    news = {**inputs, key: value}
    provider = NodeDrainProvider()
    diff = provider.diff("drain-x", olds, news)
    assert diff.changes is (state != "current")  # only the untracked key makes it an update
    if diff.changes:  # as the engine does: an update only when the diff says so
        out = provider.update("drain-x", olds, news).outs
        assert out["drains"] == 2 and out[key] == value
    assert world.deregistered == [] and world.states(world.instances[1]) == ["healthy", "healthy"]
    assert clock.t == 0


# --- a return that waits for the farm ----------------------------------------------------------
def test_during_a_farm_upgrade_a_node_is_back_in_the_load_balancer_only_once_the_farm_lists_it_on_the_new_version(
    world, farm3, clock, make
):
    world.mirror.upgrade_mode = True
    world.mirror.join_delay_s = 90  # Hazelcast: the restarted node joins a while later
    world.take_out(1)
    assert world.mirror.start_node(world.mirror.farm_nodes[1], NEW, now=clock.t)  # the install of node 1
    olds = world.pointed(_inputs(farm3[OLD], "iad-node1-return"), 1)
    news = world.pointed(_inputs(farm3[NEW], "iad-node1-return"), 1)
    provider = make(NodeReturnProvider)
    assert provider.diff("return-x", olds, news).changes is True
    provider.update("return-x", olds, news)
    (registration,) = world.registered
    assert registration[1:] == (1, NEW), f"back in the load balancer before the farm listed it: {registration}"
    assert registration[0] >= 90
    assert world.states(world.instances[1]) == ["healthy", "healthy"]


def test_after_an_instance_type_change_a_farm_node_waits_to_rejoin_the_cluster_before_it_takes_clients(
    world, farm3, clock, make
):
    world.mirror.join_delay_s = 90
    world.take_out(1)  # its drain; then its InstanceModification stopped it, changed it, started it
    assert world.mirror.start_node(world.mirror.farm_nodes[1], OLD, now=clock.t)  # Bitbucket starts with it
    news = world.pointed(_inputs(farm3[OLD], "iad-node1-return"), 1)
    olds = {**news, "instance_type": "m6i.xlarge"}
    provider = make(NodeReturnProvider)
    assert provider.diff("return-x", olds, news).changes is True
    provider.update("return-x", olds, news)
    (registration,) = world.registered
    assert registration[1:] == (1, OLD), f"back in the load balancer before it rejoined the farm: {registration}"
    assert registration[0] >= 90


def test_a_node_that_never_joins_the_farm_fails_its_return_at_the_timeout_and_stays_out(
    world, farm3, clock, make, capsys
):
    world.take_out(1)
    # Upgrade mode is off (it was never turned on): a node on another version is refused by the farm.
    assert world.mirror.start_node(world.mirror.farm_nodes[1], NEW, now=clock.t) is False
    olds = world.pointed(_inputs(farm3[OLD], "iad-node1-return"), 1)
    news = world.pointed(_inputs(farm3[NEW], "iad-node1-return"), 1)
    with pytest.raises(RolloutError) as failed:
        make(NodeReturnProvider).update("return-x", olds, news)
    assert str(failed.value) == (
        "iad-node1 (10.0.0.11) did not join the farm on 9.4.17 within 600s (it is not "
        "listed); the farm keeps serving on the other nodes"
    )
    assert clock.t == 600
    assert world.registered == []  # no client was sent to a node outside the farm
    assert world.states(world.instances[1]) == ["unused", "unused"]
    err = capsys.readouterr().err
    assert progress(err, r"the farm to list iad-node1 \(10\.0\.0\.11\) on 9\.4\.17") == EVERY_30_S, err


def test_a_node_that_never_becomes_healthy_fails_its_return_at_the_timeout_saying_so_every_30_seconds(
    world, farm3, clock, make, capsys
):
    world.mirror.upgrade_mode = True
    world.take_out(1)
    world.unhealthy.add(world.instances[1])
    assert world.mirror.start_node(world.mirror.farm_nodes[1], NEW, now=clock.t)
    olds = world.pointed(_inputs(farm3[OLD], "iad-node1-return"), 1)
    news = world.pointed(_inputs(farm3[NEW], "iad-node1-return"), 1)
    with pytest.raises(
        RolloutError,
        match=r"^iad-node1 did not become healthy within 600s: check its /status and "
        r"`journalctl -u atlbitbucket` on it .*\(target states: unhealthy\)$",
    ):
        make(NodeReturnProvider).update("return-x", olds, news)
    assert clock.t == 600
    err = capsys.readouterr().err
    assert progress(err, "iad-node1 to become healthy") == EVERY_30_S, err


# --- upgrade mode: ended once the farm agrees, never reported ended while mixed -----------------
def finish_props(world: World, farm3, token: Optional[str]) -> dict[str, Any]:
    inputs = _inputs(farm3[NEW], "iad-upgrade-finish")
    return {
        **inputs,
        "mirror_url": world.mirror.url,
        "ca_bundle": world.emu.ca_pem,
        "zdu_started": token,
        "kind": "bugfix",
    }


def zdu_end_answers(emu: Emulator) -> list[int]:
    return [r.status for r in emu.requests_to("iad") if r.path == ZDU_END]


def test_zdu_end_refused_while_the_nodes_settle_is_tried_again_and_ends_upgrade_mode(world, farm3, clock, make, capsys):
    mirror = world.mirror
    mirror.upgrade_mode = True
    for node in mirror.farm_nodes[:2]:
        mirror.start_node(node, NEW, now=clock.t)
    clock.at(4, lambda: mirror.start_node(mirror.farm_nodes[2], NEW, now=clock.t))  # the last node settles
    olds = finish_props(world, farm3, None)
    news = finish_props(world, farm3, f"1:{NEW}")
    provider = make(UpgradeFinishProvider)
    assert provider.diff("finish-x", olds, news).changes is True
    provider.update("finish-x", olds, news)
    assert zdu_end_answers(world.emu) == [409, 200] and mirror.upgrade_mode is False
    assert clock.t == UpgradeFinishProvider.pause_s
    assert "every node runs one version; upgrade mode off" in capsys.readouterr().err


def test_zdu_end_never_accepted_fails_at_its_deadline_and_never_reports_upgrade_mode_off(
    world, farm3, clock, make, capsys
):
    mirror = world.mirror
    mirror.upgrade_mode = True
    for node in mirror.farm_nodes[:2]:
        mirror.start_node(node, NEW, now=clock.t)  # node 2 stays on 9.4.16: the farm stays mixed
    olds = finish_props(world, farm3, None)
    news = finish_props(world, farm3, f"1:{NEW}")
    with pytest.raises(RolloutError) as failed:
        make(UpgradeFinishProvider).update("finish-x", olds, news)
    text = str(failed.value)
    assert text.startswith(f"{mirror.url}: upgrade mode could not be turned off within 300s (")
    assert "answered 409: Cannot end the rolling upgrade: the farm runs 9.4.16, 9.4.17" in text
    assert text.endswith(
        "the farm serves in mixed mode: check each node's version in Administration > Mirrors, "
        "then run `pulumi up` again"
    )
    assert clock.t <= UpgradeFinishProvider.timeout_s
    answers = zdu_end_answers(world.emu)
    assert len(answers) >= 20 and set(answers) == {409}  # tried all along, never accepted
    assert mirror.upgrade_mode is True
    assert "upgrade mode off" not in capsys.readouterr().err


def test_after_an_upgrade_the_finish_has_nothing_to_do_and_a_later_minor_upgrade_does_not_end_upgrade_mode(
    world, farm3, clock, make
):
    provider = make(UpgradeFinishProvider)
    done = finish_props(world, farm3, f"1:{NEW}")  # the state the upgrade's finish left
    assert provider.diff("finish-x", done, dict(done)).changes is False  # a further preview: nothing
    # A minor upgrade later (9.4.17 -> 9.5.0) rolls without upgrade mode: the window's token stays.
    minor = {
        **_inputs(farm3[MINOR], "iad-upgrade-finish"),
        "mirror_url": world.mirror.url,
        "ca_bundle": world.emu.ca_pem,
        "zdu_started": f"1:{NEW}",
        "kind": "feature",
    }
    assert provider.diff("finish-x", done, minor).changes is True
    provider.update("finish-x", done, minor)
    assert zdu_end_answers(world.emu) == []


# --- what the upgrade window says -----------------------------------------------------------------
@pytest.fixture(scope="module")
def single_acm() -> dict[str, ProgramRun]:
    # The stack pins its installer: a new version comes with its own archive (preview refuses otherwise).
    installer = {"url": f"https://artifacts.internal.example.com/atlassian-bitbucket-{NEW}.tar.gz", "sha256": "ab" * 32}
    return {
        OLD: _program("single-acm.yaml"),
        NEW: _program("single-acm.yaml", bitbucketVersion=NEW, installer=installer),
    }


def window(run: ProgramRun, mirror) -> tuple[str, dict[str, Any]]:
    (found,) = [r for r in run.resources if r.typ.endswith(":UpgradeWindow")]
    return found.name, {**_inputs(run, found.name), "mirror_url": mirror.url, "ca_bundle": None}


def preview_and_up(make, emu: Emulator, olds: dict, news: dict) -> dict:
    provider = make(UpgradeWindowProvider)
    news = {**news, "ca_bundle": emu.ca_pem}
    checked = provider.check({**olds, "ca_bundle": emu.ca_pem}, news)
    assert checked.failures == []
    assert provider.diff("window-x", {**olds, "installed": [OLD]}, checked.inputs).changes is True
    return provider.update("window-x", {**olds, "zdu_started": None}, checked.inputs).outs


def test_a_minor_upgrade_of_a_farm_announces_that_every_node_stops(emu, farm3, make, capsys):
    mirror = emu.add_mirror("iad", nodes=3, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    _, olds = window(farm3[OLD], mirror)
    _, news = window(farm3[MINOR], mirror)
    out = preview_and_up(make, emu, olds, news)
    err = capsys.readouterr().err
    assert (
        "warning: mirrors[0].bitbucketVersion: 9.4.16 -> 9.5.0: every node stops; the mirror is unavailable "
        "until Bitbucket runs 9.5.0 on the first node (only bug-fix upgrades can roll)"
    ) in err
    assert (
        f"{mirror.url}: 9.4.16 -> 9.5.0 is not a bug-fix upgrade: every node stops; the mirror is unavailable "
        "until the nodes start on the new version"
    ) in err
    assert out["kind"] == "feature" and out["zdu_started"] is None
    assert emu.stats.successful("POST", ZDU_START) == 0


def test_a_bug_fix_upgrade_of_a_single_node_is_never_called_anything_else(emu, single_acm, make, capsys):
    mirror = emu.add_mirror("fra", nodes=1, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    _, olds = window(single_acm[OLD], mirror)
    _, news = window(single_acm[NEW], mirror)
    assert news["farm"] is False
    out = preview_and_up(make, emu, olds, news)
    err = capsys.readouterr().err
    assert (
        "warning: mirrors[0].bitbucketVersion: 9.4.16 -> 9.4.17: the node upgrades in place; the mirror is "
        "unavailable until Bitbucket runs 9.4.17"
    ) in err
    assert "not a bug-fix" not in err and "every node stops" not in err
    assert out["kind"] == "bugfix" and out["zdu_started"] is None
    assert emu.stats.successful("POST", ZDU_START) == 0  # upgrade mode is for farms


def test_a_bug_fix_upgrade_of_a_farm_rolls_in_upgrade_mode_without_a_warning(emu, farm3, make, capsys):
    mirror = emu.add_mirror("iad", nodes=3, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    _, olds = window(farm3[OLD], mirror)
    _, news = window(farm3[NEW], mirror)
    out = preview_and_up(make, emu, olds, news)
    err = capsys.readouterr().err
    assert (
        "mirrors[0].bitbucketVersion: 9.4.16 -> 9.4.17 is a bug-fix upgrade: the farm upgrades one node at a "
        "time in upgrade mode and keeps serving"
    ) in err
    assert "warning:" not in err and "not a bug-fix" not in err
    assert out["kind"] == "bugfix" and out["zdu_started"] == f"1:{NEW}"
    assert emu.stats.successful("POST", ZDU_START) == 1 and mirror.upgrade_mode is True


# --- an instance change: inside the node's one drain (issue #28 item 3) -------------------------
def test_an_instance_change_drains_the_node_once_and_does_not_install_again(world, farm3, clock):
    world.delay_s = 40
    news = {**world.pointed(_inputs(farm3[OLD], "iad-node1-drain"), 1), "drains": 2}
    olds = {**news, "instance_type": "m6i.xlarge"}
    provider = NodeDrainProvider()
    assert provider.diff("drain-x", olds, news).changes is True
    out = provider.update("drain-x", olds, news).outs
    assert world.deregistered == [(0.0, world.instances[1])] and clock.t >= 40
    assert out["drains"] == 2, "an instance change alone runs the install again"
    # The same with a new install: drained once, and counted (the install runs again).
    olds = {**olds, "install_digest": "an older one"}
    assert provider.update("drain-x", olds, news).outs["drains"] == 3


def test_a_state_from_before_the_instance_change_moved_records_it_without_a_drain(world, farm3):
    news = {**world.pointed(_inputs(farm3[OLD], "iad-node1-drain"), 1), "drains": 1}
    olds = {k: v for k, v in news.items() if k not in ("instance_type", "user_data_digest")}
    out = NodeDrainProvider().update("drain-x", olds, news).outs
    assert world.deregistered == [] and out["drains"] == 1
    assert out["instance_type"] == news["instance_type"]


def test_the_steps_around_the_instance_no_longer_take_a_node_out_for_its_type(world, farm3, monkeypatch):
    news = world.pointed(_inputs(farm3[OLD], "iad-node1-stop-drain"), 1)
    olds = {**news, "instance_type": "m6i.xlarge"}
    assert InstanceStopDrainProvider().diff("stop-drain-x", olds, news).changes is False
    back = world.pointed(_inputs(farm3[OLD], "iad-node1-start-return"), 1)
    recorded = {**back, "instance_type": "m6i.xlarge"}
    step = InstanceStartReturnProvider()
    # Its diff reads the node's address from EC2; the type alone is no update.
    monkeypatch.setattr("providers.node_rollout.current_address", lambda props: back["address"])
    assert step.diff("start-return-x", recorded, back).changes is False
    monkeypatch.setattr("providers.node_rollout.current_address", lambda props: "203.0.113.99")  # a stop and start
    assert step.diff("start-return-x", recorded, back).changes is True
    assert step.update("start-return-x", recorded, back).outs["address"] == "203.0.113.99"
    assert world.deregistered == []
