"""A node leaving its site is drained only where a load balancer still routes to it (issue #28 item 4):
when a whole site is removed the engine deletes its listeners and load balancer first, and waiting out a
deregistration delay there (300 s) drains nothing. moto's elbv2 answers DescribeTargetGroups with the
load balancers that use each group, as AWS does."""

from __future__ import annotations

import boto3
import pytest

from providers import leaving
from providers.node_rollout import NodeDrainProvider
from providers.targets import Targets

REGION = "us-east-1"


@pytest.fixture
def elb(moto_env):
    ec2 = boto3.client("ec2", region_name=REGION)
    client = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    lb = client.create_load_balancer(Name="iad-nlb", Type="network", Subnets=subnets)["LoadBalancers"][0]
    groups, listeners = [], []
    for label, port in (("https", 7990), ("ssh", 7999)):
        arn = client.create_target_group(
            Name=f"iad-{label}", Protocol="TCP", Port=port, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        groups.append({"arn": arn, "port": port})
        listeners.append(
            client.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="TCP",
                Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
            )["Listeners"][0]["ListenerArn"]
        )
    yield client, lb["LoadBalancerArn"], listeners, groups


@pytest.fixture
def drained(monkeypatch) -> list[list[str]]:
    """The groups each drain ran against (the wait itself is test_rollout_decisions')."""
    calls: list[list[str]] = []
    monkeypatch.setattr(Targets, "drain", lambda self, connections=None: calls.append([g["arn"] for g in self.groups]))
    return calls


def _delete(groups) -> None:
    props = {"region": REGION, "instance_id": "i-0123456789abcdef0", "target_groups": groups, "node": "iad-node2"}
    NodeDrainProvider().delete("drain-x", props)


def test_a_leaving_node_is_drained_while_its_load_balancer_routes_to_it(elb, drained):
    _client, _lb, _listeners, groups = elb
    _delete(groups)
    assert drained == [[g["arn"] for g in groups]]


def test_a_leaving_node_whose_load_balancer_is_gone_is_done_at_once_and_says_so(elb, drained, capsys):
    client, lb, listeners, groups = elb
    for listener in listeners:
        client.delete_listener(ListenerArn=listener)
    client.delete_load_balancer(LoadBalancerArn=lb)
    _delete(groups)
    assert drained == []
    assert "iad-node2: its load balancer is gone; nothing to drain" in capsys.readouterr().err


def test_a_leaving_node_whose_target_groups_are_gone_is_done_at_once(elb, drained):
    client, lb, listeners, groups = elb
    for listener in listeners:
        client.delete_listener(ListenerArn=listener)
    client.delete_load_balancer(LoadBalancerArn=lb)
    for group in groups:
        client.delete_target_group(TargetGroupArn=group["arn"])
    _delete(groups)
    assert drained == []


def test_only_the_groups_a_listener_still_uses_are_drained(elb, drained):
    client, _lb, listeners, groups = elb
    client.delete_listener(ListenerArn=listeners[1])
    assert leaving.groups_in_use(REGION, groups) == [groups[0]]
    _delete(groups)
    assert drained == [[groups[0]["arn"]]]
