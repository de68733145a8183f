"""The twin's world and its AWS answers, checked against moto and botocore where they model the same
thing, and against the AWS documentation the world cites where they do not (moto removes a
deregistered target at once and reports every registered target healthy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from twin.world import World
from twin.world_objects import HealthCheck, TargetGroup

ROOT = Path(__file__).resolve().parents[2]
TAGS = [
    {"Name": "iad-node0", "bitbucket-mirrors:site": "iad"},
    {"Name": "iad-node1", "bitbucket-mirrors:site": "iad"},
    {"Name": "syd-node0", "bitbucket-mirrors:site": "syd"},
]
QUERIES = [
    [{"Name": "tag:bitbucket-mirrors:site", "Values": ["iad"]}],
    [{"Name": "tag:Name", "Values": ["iad-node1"]}, {"Name": "tag:bitbucket-mirrors:site", "Values": ["iad"]}],
    [{"Name": "tag:Name", "Values": ["iad-node0", "syd-node0"]}],
    [{"Name": "tag:bitbucket-mirrors:site", "Values": ["iad"]}, {"Name": "instance-state-name", "Values": ["stopped"]}],
    [{"Name": "tag:bitbucket-mirrors:site", "Values": ["nowhere"]}],
]


def _names(reservations: list) -> list[str]:
    return sorted(
        next(t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name") for r in reservations for i in r["Instances"]
    )


def test_describe_instances_filters_as_moto_does(world):
    for tags in TAGS:
        world.launch(tags["Name"], "us-east-1", "us-east-1a", "m6i.xlarge", True, tags, "")
    world.stop_instance(next(i for i in world.instances.values() if i.name == "iad-node1"))
    ours = [
        _names(boto3.client("ec2", region_name="us-east-1").describe_instances(Filters=q)["Reservations"])
        for q in QUERIES
    ]
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        for tags in TAGS:
            reply = ec2.run_instances(
                ImageId=image,
                MinCount=1,
                MaxCount=1,
                InstanceType="m6i.xlarge",
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                ],
            )
            if tags["Name"] == "iad-node1":
                ec2.stop_instances(InstanceIds=[reply["Instances"][0]["InstanceId"]])
        theirs = [_names(ec2.describe_instances(Filters=q)["Reservations"]) for q in QUERIES]
    assert ours == theirs


def test_a_stop_and_start_gives_a_new_public_address_and_keeps_the_private_one_as_in_moto(world):
    instance = world.launch("n", "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": "n"}, "")
    public, private = instance.public_ip, instance.private_ip
    world.stop_instance(instance)
    assert instance.public_ip is None
    world.start_instance(instance)
    assert instance.public_ip not in (None, public) and instance.private_ip == private
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        reply = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True}],
        )
        instance_id = reply["Instances"][0]["InstanceId"]

        def addresses():
            found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
            return found.get("PublicIpAddress"), found["PrivateIpAddress"]

        before = addresses()
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.start_instances(InstanceIds=[instance_id])
        after = addresses()
    assert after[0] != before[0] and after[1] == before[1]


def _group(world: World) -> TargetGroup:
    group = TargetGroup(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1",
        "t",
        7990,
        HealthCheck(interval=15, healthy_threshold=3, unhealthy_threshold=3),
        deregistration_delay=300,
    )
    world.target_groups[group.arn] = group
    return group


def _state(group: TargetGroup, instance_id: str) -> tuple[str, str]:
    answer = boto3.client("elbv2", region_name="us-east-1").describe_target_health(
        TargetGroupArn=group.arn, Targets=[{"Id": instance_id, "Port": 7990}]
    )
    health = answer["TargetHealthDescriptions"][0]["TargetHealth"]
    return health["State"], health.get("Reason", "")


def test_target_health_follows_the_checks_and_the_deregistration_delay(world):
    """NLB guide: healthy after HealthyThresholdCount consecutive checks, draining for the
    deregistration delay and then unused (moto: healthy at once, removed at once)."""
    group = _group(world)
    instance = world.launch("n", "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": "n"}, "")
    instance.runs.append(type(instance.runs[0])(world.now, "running", "9.4.16", "m"))
    world.register(group, instance.id)
    assert _state(group, instance.id) == ("initial", "Elb.InitialHealthChecking")
    world.sched.now += 3 * 15 - 1
    assert _state(group, instance.id)[0] == "initial"
    world.sched.now += 1
    assert _state(group, instance.id) == ("healthy", "")
    world.deregister(group, instance.id)
    assert _state(group, instance.id) == ("draining", "Target.DeregistrationInProgress")
    world.sched.now += 300
    assert _state(group, instance.id) == ("unused", "Target.NotRegistered")


def test_a_stopped_instance_is_unused_and_cannot_be_registered_as_in_moto(world):
    group = _group(world)
    instance = world.launch("n", "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": "n"}, "")
    world.register(group, instance.id)
    world.stop_instance(instance)
    assert _state(group, instance.id) == ("unused", "Target.InvalidState")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidTarget"):
        boto3.client("elbv2", region_name="us-east-1").register_targets(
            TargetGroupArn=group.arn, Targets=[{"Id": instance.id, "Port": 7990}]
        )
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        elbv2 = boto3.client("elbv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        arn = elbv2.create_target_group(Name="t", Protocol="TCP", Port=7990, VpcId=vpc)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        moto_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": moto_id, "Port": 7990}])
        ec2.stop_instances(InstanceIds=[moto_id])
        health = elbv2.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": moto_id, "Port": 7990}])
        moto_health = health["TargetHealthDescriptions"][0]["TargetHealth"]
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidTarget"):
            elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": moto_id, "Port": 7990}])
    assert (moto_health["State"], moto_health["Reason"]) == ("unused", "Target.InvalidState")


def test_the_load_balancer_fails_open_when_no_target_is_healthy(world):
    """NLB guide: 'If all targets fail health checks at the same time ... the load balancer fails open';
    a target still in `initial` has failed nothing and gets no traffic (tests/twin/test_twin_network.py
    has the fail-open to unhealthy targets)."""
    from twin.world_objects import LoadBalancer

    group = _group(world)
    lb = LoadBalancer("arn:lb", "lb.example", "us-east-1", active_at=0, listeners={443: group.arn})
    world.load_balancers[lb.arn] = lb
    world.dns["mirror.example.com"] = ("lb", lb.dns_name)
    instance = world.launch("n", "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": "n"}, "")
    instance.runs.append(type(instance.runs[0])(world.now, "running", "9.4.16", "m"))
    world.register(group, instance.id)
    assert world.serving("mirror.example.com", world.now) == (0, False)  # `initial`: not routed to
    world.sched.now += 45
    assert world.serving("mirror.example.com", world.now) == (1, True)


def test_every_request_and_answer_is_checked_against_botocores_model(world):
    client = boto3.client("elbv2", region_name="us-east-1")
    with pytest.raises(botocore.exceptions.ParamValidationError):
        client.deregister_targets(TargetGroupArn="arn", Targets=[{"Port": 7990}])  # no Id
    with pytest.raises(botocore.exceptions.ClientError, match="does not model"):
        client.describe_load_balancers()
    with pytest.raises(botocore.exceptions.ClientError, match="TargetGroupNotFound"):
        client.describe_target_health(TargetGroupArn="arn:nothing")


def test_the_twins_botocore_waiters_agree_with_its_states(world):
    """botocore's own waiters (elbv2 waiters-2.json) end on the states the world reaches."""
    group = _group(world)
    instance = world.launch("n", "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": "n"}, "")
    instance.runs.append(type(instance.runs[0])(world.now, "running", "9.4.16", "m"))
    world.register(group, instance.id)
    world.sched.now += 45
    client = boto3.client("elbv2", region_name="us-east-1")
    target = [{"Id": instance.id, "Port": 7990}]
    client.get_waiter("target_in_service").wait(
        TargetGroupArn=group.arn, Targets=target, WaiterConfig={"Delay": 0, "MaxAttempts": 1}
    )
    world.deregister(group, instance.id)
    with pytest.raises(botocore.exceptions.WaiterError):
        client.get_waiter("target_deregistered").wait(
            TargetGroupArn=group.arn, Targets=target, WaiterConfig={"Delay": 0, "MaxAttempts": 1}
        )
    world.sched.now += 300
    client.get_waiter("target_deregistered").wait(
        TargetGroupArn=group.arn, Targets=target, WaiterConfig={"Delay": 0, "MaxAttempts": 1}
    )


def test_the_twin_is_deterministic(scenario):
    from twin.scenarios import SCENARIOS, run_scenario

    first = scenario("farm3-bugfix")
    again = run_scenario(SCENARIOS["farm3-bugfix"])
    assert again["steps"] == first["steps"] and again["sites"] == first["sites"]


def test_the_command_prints_one_json_report(tmp_path):
    from twin.scenarios import stack_with

    before = stack_with("single-acm", {}, {}, tmp_path, "before")
    after = stack_with("single-acm", {"bitbucketVersion": "9.4.17"}, {}, tmp_path, "after")
    done = subprocess.run(
        [sys.executable, "-m", "twin", str(before), str(after), "--fail-install", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert {"converged", "error", "steps", "second_up_changes", "sites", "modelled_wall_s"} <= set(report)
    assert report["converged"] is False and "fra-node0" in report["error"]
    assert report["converged_in_the_end"] is True  # the further up resumed it
    site = report["sites"]["fra"]
    assert {"nodes", "min_serving", "outage_s", "versions_after", "serving_after", "upgrade_mode_after"} <= set(site)
    assert all({"resource", "operation", "start", "end"} <= set(step) for step in report["steps"])
