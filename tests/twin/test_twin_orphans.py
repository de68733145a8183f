"""The twin's EC2 where an `up` is killed while it creates an instance: the instance EC2 launched runs
all the same (nobody records it: an orphan), and TerminateInstances answers as the EC2 API does
(`shutting-down` at once, `terminated` once EC2 is done), which the orphan sweep relies on."""

from __future__ import annotations

import threading

import boto3
import botocore.exceptions
import pytest

from twin.clock import Killed, Scheduler
from twin.durations import seconds


def _in_process(sched: Scheduler, name: str, body, outcome: dict) -> threading.Thread:
    def run() -> None:
        sched.enter(name)
        try:
            outcome[name] = body()
        except Killed:
            outcome[name] = "killed"
        finally:
            sched.leave()

    return threading.Thread(target=run, name=name)


def test_an_instance_whose_launch_was_killed_runs_from_the_launchs_end(world):
    sched, outcome = world.sched, {}
    launch = _in_process(
        sched,
        "launch",
        lambda: world.launch("iad-node2", "us-east-1", "us-east-1a", "m6i.xlarge", False, {}, ""),
        outcome,
    )
    kill = _in_process(sched, "kill", lambda: (sched.sleep(10), sched.kill()), outcome)
    sched.expect({"launch", "kill"})
    for thread in (launch, kill):
        thread.start()
    for thread in (launch, kill):
        thread.join(timeout=30)
    sched.wait_idle()
    sched.revive()
    (instance,) = world.instances.values()
    assert outcome["launch"] == "killed"
    assert instance.state == "running"
    assert instance.running_at(seconds("ec2.launch")) and not instance.running_at(seconds("ec2.launch") - 1)


def _states(ids: list[str]) -> dict[str, str]:
    answer = boto3.client("ec2", region_name="us-east-1").describe_instances(
        Filters=[{"Name": "instance-id", "Values": ids}]
    )
    return {i["InstanceId"]: i["State"]["Name"] for r in answer["Reservations"] for i in r["Instances"]}


def test_terminate_instances_is_shutting_down_at_once_and_terminated_once_ec2_is_done(world):
    instance = world.launch("orphan", "us-east-1", "us-east-1a", "m6i.xlarge", False, {"Name": "orphan"}, "")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    (change,) = ec2.terminate_instances(InstanceIds=[instance.id])["TerminatingInstances"]
    assert (change["PreviousState"]["Name"], change["CurrentState"]["Name"]) == ("running", "shutting-down")
    assert _states([instance.id]) == {instance.id: "shutting-down"}
    world.sched.now += seconds("ec2.terminate")
    assert _states([instance.id]) == {instance.id: "terminated"}
    # Repeated, it changes nothing: terminated stays terminated.
    (again,) = ec2.terminate_instances(InstanceIds=[instance.id])["TerminatingInstances"]
    assert again["CurrentState"]["Name"] == "terminated"


def test_terminate_instances_with_an_unknown_id_ends_nothing(world):
    instance = world.launch("node", "us-east-1", "us-east-1a", "m6i.xlarge", False, {"Name": "node"}, "")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidInstanceID.NotFound"):
        boto3.client("ec2", region_name="us-east-1").terminate_instances(
            InstanceIds=[instance.id, "i-0000000000000dead"]
        )
    assert instance.state == "running"


def test_a_provider_delete_of_an_instance_already_shutting_down_waits_for_it(world):
    instance = world.launch("node", "us-east-1", "us-east-1a", "m6i.xlarge", False, {"Name": "node"}, "")
    boto3.client("ec2", region_name="us-east-1").terminate_instances(InstanceIds=[instance.id])
    world.sched.now += seconds("ec2.terminate")
    world.terminate(instance)
    assert instance.state == "terminated" and [s for _, s in instance.states].count("terminated") == 1
