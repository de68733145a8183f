"""A node's instance type and user data changed in place inside its drain (providers/instance_change.py),
against the twin's EC2 (twin/aws_api.py): every request is validated against botocore's EC2 model, and
ModifyInstanceAttribute is refused on an instance that is not stopped, as the EC2 API Reference says."""

from __future__ import annotations

import base64

import boto3
import botocore.exceptions
import pytest

from providers.errors import RolloutError
from providers.instance_change import InstanceModificationProvider, digest_of
from twin.aws_api import AwsApi
from twin.clock import Scheduler
from twin.world import World

REGION = "us-east-1"
BOOT, NEW_BOOT = "#cloud-config\nbootcmd: [one]\n", "#cloud-config\nbootcmd: [two]\n"
CHANGES = ("ec2.StopInstances", "ec2.ModifyInstanceAttribute", "ec2.StartInstances")


@pytest.fixture
def ec2():
    sched = Scheduler()
    world = World(sched)
    api = AwsApi(world)
    api.install()
    yield world, api
    api.uninstall()
    sched.stop()


def launched(world: World, instance_type: str = "m6i.xlarge", user_data: str = BOOT):
    return world.launch("iad-node1", REGION, "us-east-1a", instance_type, True, {"Name": "iad-node1"}, user_data)


def props(instance_id: str, instance_type: str = "m6i.2xlarge", user_data: str = BOOT) -> dict:
    return {
        "region": REGION,
        "instance_id": instance_id,
        "instance_type": instance_type,
        "user_data": user_data,
        "user_data_digest": digest_of(user_data),
        "node": "iad-node1",
        "timeout_s": 900,
        "address": "203.0.113.1",
    }


def step() -> InstanceModificationProvider:
    provider = InstanceModificationProvider()
    provider.poll_s = 0.0
    return provider


def changes(api: AwsApi) -> list[tuple[str, dict]]:
    return [(op, params) for _, op, params in api.calls if op in CHANGES]


def test_a_new_type_stops_modifies_and_starts_the_instance_and_records_its_new_address(ec2):
    world, api = ec2
    instance = launched(world)
    before = instance.public_ip
    olds, news = props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge")
    assert step().diff("x", olds, news).changes is True
    out = step().update("x", olds, news).outs
    assert [op for op, _ in changes(api)] == list(CHANGES)
    assert changes(api)[1][1]["InstanceType"] == {"Value": "m6i.2xlarge"}
    assert instance.instance_type == "m6i.2xlarge" and instance.state == "running"
    assert instance.user_data == BOOT  # unchanged: not written
    # EC2 gave it a new public address: the install connects there.
    assert out["address"] == instance.public_ip != before


def test_new_user_data_is_written_as_given_and_the_type_is_left_alone(ec2):
    world, api = ec2
    instance = launched(world)
    olds, news = props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.xlarge", NEW_BOOT)
    step().update("x", olds, news)
    ((_, modify),) = [c for c in changes(api) if c[0] == "ec2.ModifyInstanceAttribute"]
    assert set(modify) == {"InstanceId", "UserData"} and modify["UserData"] == {"Value": NEW_BOOT.encode()}
    assert instance.user_data == NEW_BOOT and instance.instance_type == "m6i.xlarge"
    assert instance.state == "running"


def test_a_type_and_user_data_change_stop_the_instance_once(ec2):
    world, api = ec2
    instance = launched(world)
    step().update("x", props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge", NEW_BOOT))
    ops = [op for op, _ in changes(api)]
    assert ops.count("ec2.StopInstances") == 1 and ops.count("ec2.StartInstances") == 1
    assert (instance.instance_type, instance.user_data) == ("m6i.2xlarge", NEW_BOOT)


def test_an_instance_ec2_already_runs_as_configured_is_not_stopped_again(ec2):
    """Idempotent: what EC2 reports decides (a second update, or one after a killed `up` whose
    instance had been changed and started)."""
    world, api = ec2
    instance = launched(world, "m6i.2xlarge")
    address = instance.public_ip
    out = step().update("x", props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge")).outs
    assert changes(api) == [] and instance.state == "running"
    assert out["address"] == address


def test_an_up_killed_after_the_modification_starts_the_instance_and_modifies_nothing(ec2):
    world, api = ec2
    instance = launched(world)
    world.stop_instance(instance)
    instance.instance_type = "m6i.2xlarge"  # the killed up's ModifyInstanceAttribute
    step().update("x", props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge"))
    assert [op for op, _ in changes(api)] == ["ec2.StartInstances"] and instance.state == "running"


def test_an_up_killed_after_the_stop_modifies_and_starts_without_stopping_again(ec2):
    world, api = ec2
    instance = launched(world)
    world.stop_instance(instance)
    step().update("x", props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge"))
    assert [op for op, _ in changes(api)] == ["ec2.ModifyInstanceAttribute", "ec2.StartInstances"]
    assert instance.instance_type == "m6i.2xlarge" and instance.state == "running"


def test_a_new_instance_is_left_as_it_launched_and_its_address_recorded(ec2):
    world, api = ec2
    instance = launched(world, "m6i.2xlarge")
    out = step().create(props(instance.id)).outs
    assert changes(api) == [] and out["address"] == instance.public_ip


def test_another_cpu_architecture_is_refused_at_preview_naming_the_key_and_both_types(ec2):
    olds, news = props("i-0abc", "m6i.xlarge"), props("i-0abc", "m7g.xlarge")
    (failure,) = step().check(olds, news).failures
    assert failure.property == "instance_type"
    assert failure.reason == (
        "iad-node1: instanceType m6i.xlarge -> m7g.xlarge changes the CPU architecture (x86_64 -> arm64); a "
        "node's instance type is changed in place, which EC2 cannot do across architectures: keep an x86_64 type"
    )
    assert step().check(olds, props("i-0abc", "m6i.4xlarge")).failures == []


def test_an_instance_of_another_architecture_than_configured_is_never_stopped(ec2):
    world, api = ec2
    instance = launched(world, "m7g.xlarge")
    with pytest.raises(RolloutError) as refused:
        step().update("x", props(instance.id, "m7g.xlarge"), props(instance.id, "m6i.xlarge"))
    assert str(refused.value) == (
        "iad-node1: its instance runs m7g.xlarge (arm64); m6i.xlarge is another CPU architecture, which EC2 "
        "cannot modify it to"
    )
    assert changes(api) == [] and instance.state == "running"


def test_a_terminated_instance_is_an_error_naming_it(ec2):
    world, api = ec2
    instance = launched(world)
    world.terminate(instance)
    with pytest.raises(RolloutError) as failed:
        step().update("x", props(instance.id, "m6i.xlarge"), props(instance.id, "m6i.2xlarge"))
    assert str(failed.value) == f"iad-node1: its instance {instance.id} is {instance.state}: it cannot be changed"
    assert changes(api) == []


def test_a_start_that_never_comes_is_an_error_at_the_timeout(ec2, monkeypatch):
    world, api = ec2
    instance = launched(world)
    monkeypatch.setattr(world, "start_instance", lambda i: None)  # EC2 keeps it stopped
    with pytest.raises(RolloutError) as failed:
        step().update("x", props(instance.id, "m6i.xlarge"), {**props(instance.id, "m6i.2xlarge"), "timeout_s": 0.01})
    assert str(failed.value) == (
        f"iad-node1: its instance {instance.id} is not running within 0s (it is stopped); run `pulumi up` again"
    )


# --- the twin's EC2, as the EC2 API Reference describes it ----------------------------------------
def test_the_twins_ec2_refuses_to_modify_a_running_instance(ec2):
    world, _ = ec2
    instance = launched(world)
    client = boto3.client("ec2", region_name=REGION)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.modify_instance_attribute(InstanceId=instance.id, InstanceType={"Value": "m6i.2xlarge"})
    assert refused.value.response["Error"]["Code"] == "IncorrectInstanceState"
    assert instance.instance_type == "m6i.xlarge"


def test_the_twins_ec2_answers_user_data_in_base64_and_stop_start_states(ec2):
    world, _ = ec2
    instance = launched(world)
    client = boto3.client("ec2", region_name=REGION)
    found = client.describe_instance_attribute(InstanceId=instance.id, Attribute="userData")
    assert base64.b64decode(found["UserData"]["Value"]).decode() == BOOT
    (stopping,) = client.stop_instances(InstanceIds=[instance.id])["StoppingInstances"]
    assert (stopping["PreviousState"]["Name"], stopping["CurrentState"]["Name"]) == ("running", "stopping")
    (starting,) = client.start_instances(InstanceIds=[instance.id])["StartingInstances"]
    assert (starting["PreviousState"]["Name"], starting["CurrentState"]["Name"]) == ("stopped", "pending")
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        client.stop_instances(InstanceIds=["i-0000000000000dead"])
    assert missing.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
