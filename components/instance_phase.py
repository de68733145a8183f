"""A site's instances, before its nodes' drains (components/rollout.py): each node's
InstanceStopDrain -> aws.ec2.Instance -> InstanceStartReturn. A new farm's instances launch together;
a type or user data change stops no instance here (it is made inside the node's one drain,
providers/instance_change.py); what replaces an instance (another subnet, a KMS key) is drained
before it by InstanceStopDrain."""

from __future__ import annotations

from dataclasses import replace

import pulumi

from providers.node_rollout import InstanceChangeArgs, InstanceStartReturn, InstanceStopDrain

from .host import MirrorHost
from .plan import NodePlan, RolloutPlan


def instances_one_at_a_time(
    plan: RolloutPlan, parent: pulumi.Resource
) -> tuple[list[MirrorHost], list[InstanceStartReturn]]:
    """A site's nodes' instances: a new farm's launch in parallel, as fast as a single node's. A type
    or user data change stops no instance here (it is made inside the node's drain,
    FarmRollout._install); the steps around each instance are kept for their URNs and for the
    warning a single node's instance change gives at preview. Returns the hosts and the steps the
    drains wait for."""
    hosts: list[MirrorHost] = []
    previous: list[InstanceStopDrain] = []
    returns: list[InstanceStartReturn] = []
    for node in plan.nodes:
        # What makes the node's instance stop and start (said at preview under InstanceStopDrain).
        change = instance_change(plan, node)
        leave = InstanceStopDrain(
            f"{node.name}-stop-drain",
            replace(
                change,
                instance_tags=node.instance_tags,
                load_balancer=plan.lb_arn_suffix,
                after=previous[0].left if previous else None,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
        )
        host_args = replace(node.host, instance_wait_for=[leave, *node.host.instance_wait_for])
        host = MirrorHost(node.name, host_args, opts=pulumi.ResourceOptions(parent=parent))
        hosts.append(host)
        previous = [leave]
        back = replace(
            change,
            instance_id=host.instance_id,
            mirror_url=plan.mirror.base_url,
            address=host.address,
            farm=plan.clustered,
            ca_bundle=plan.ca_bundle,
        )
        returns.append(
            InstanceStartReturn(f"{node.name}-start-return", back, opts=pulumi.ResourceOptions(parent=parent))
        )
    if plan.load_balancer is not None:
        plan.load_balancer.attach([h.instance_id for h in hosts])
    return hosts, returns


def instance_change(plan: RolloutPlan, node: NodePlan) -> InstanceChangeArgs:
    """What a node's instance change is decided by (providers/node_rollout.py STOPS_INSTANCE)."""
    return InstanceChangeArgs(
        region=plan.region,
        target_groups=plan.target_groups,
        node=node.name,
        instance_type=plan.mirror.instance_type,
        user_data_digest=node.user_data_digest,
        nodes=len(plan.nodes),
        warn_to=plan.warn_to,
    )
