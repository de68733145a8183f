"""Issue #30 item 7, against moto's elbv2: a drain of a target that is already out (deregistered
before, or its instance terminated; AWS answers InvalidTarget) counts as done, and a return of a
target already registered registers nothing twice. A return of an instance that is gone says so."""

from __future__ import annotations

import boto3
import pytest

from providers.errors import RolloutError
from providers.targets import Targets

REGION = "eu-west-1"


@pytest.fixture
def aws(moto_env):
    yield


@pytest.fixture
def node(aws):
    """One running instance registered in two target groups, as a site's node is."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    instance = ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    groups = []
    for label, port in (("https", 7990), ("ssh", 7999)):
        arn = elbv2.create_target_group(
            Name=f"syd-{label}", Protocol="TCP", Port=port, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance, "Port": port}])
        groups.append({"arn": arn, "port": port})
    targets = Targets(REGION, instance, groups, "syd-node0", timeout_s=5, poll_s=0.01)
    return targets, ec2, elbv2


def calls(monkeypatch, targets: Targets, operation: str) -> list:
    """Every call of `operation` the node's elbv2 client makes from now on."""
    client = targets._client()
    made: list = []
    real = getattr(client, operation)
    monkeypatch.setattr(client, operation, lambda **kw: made.append(kw) or real(**kw))
    return made


def test_a_drain_of_a_target_already_out_counts_as_done(node, capsys):
    targets, _ec2, _elbv2 = node
    targets.drain()
    assert set(targets.states().values()) == {"unused"}
    # moto answers InvalidTarget, as AWS does, for a target that is not registered.
    targets.drain()
    assert set(targets.states().values()) == {"unused"}
    assert "syd-node0 is out of the load balancer" in capsys.readouterr().err


def test_a_drain_of_a_terminated_instance_counts_as_done(node, monkeypatch):
    from moto.elbv2.exceptions import InvalidTargetError
    from moto.elbv2.models import FakeTargetGroup

    targets, ec2, _elbv2 = node
    real = FakeTargetGroup.health_for

    def gone_after_its_delay(group, target, ec2_backend):
        # moto keeps a terminated target draining for ever; AWS drains it for the deregistration
        # delay and then answers InvalidTarget for an instance that no longer exists.
        if target["Id"] in group.terminated_targets:
            raise InvalidTargetError()
        return real(group, target, ec2_backend)

    monkeypatch.setattr(FakeTargetGroup, "health_for", gone_after_its_delay)
    ec2.terminate_instances(InstanceIds=[targets.instance_id])
    targets.drain()  # DeregisterTargets answers InvalidTarget: already out
    assert set(targets.states().values()) == {"unused"}


def test_a_return_of_a_target_already_registered_registers_nothing_twice(node, monkeypatch):
    targets, _ec2, _elbv2 = node
    made = calls(monkeypatch, targets, "register_targets")
    targets.register()
    targets.wait_healthy()
    assert made == []
    targets.drain()
    targets.register()  # out: registered again, once per group
    assert [m["TargetGroupArn"] for m in made] == [g["arn"] for g in targets.groups]
    targets.register()  # a return that runs again
    assert len(made) == 2
    assert set(targets.states().values()) == {"healthy"}


def test_a_return_of_an_instance_that_is_gone_says_what_to_do(node):
    targets, ec2, _elbv2 = node
    targets.drain()
    ec2.stop_instances(InstanceIds=[targets.instance_id])
    with pytest.raises(RolloutError) as caught:
        targets.register()
    text = str(caught.value)
    assert f"syd-node0 ({targets.instance_id}) cannot be put back" in text and "InvalidTarget" in text
