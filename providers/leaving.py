"""A node leaving its site (removed from `mirrors`, or the site scaled in): drained only from the
target groups a load balancer still routes to.

When a whole site goes, the engine deletes its listeners and load balancer before the node's
`NodeDrain` (nothing of them depends on the drain). A target group no listener uses sends no
connections, so there is nothing to finish there: its targets are `unused` ("Target.NotInUse",
ELB API reference, TargetHealth) and a group that is gone has no targets at all. Asking is cheap;
waiting out a deregistration delay for a load balancer that is gone (300 s) is not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from .messages import say
from .node_idle import NodeConnections
from .targets import Targets, elbv2


def groups_in_use(region: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups that still exist and that a listener of a load balancer still forwards to, in
    their order. The group's LoadBalancerArns names the balancers; their listeners are asked too,
    so that a listener deleted on its own counts as well."""
    client = elbv2(region)
    used = []
    for group in groups:
        try:
            found = client.describe_target_groups(TargetGroupArns=[group["arn"]])["TargetGroups"]
        except client.exceptions.TargetGroupNotFoundException:
            continue
        balancers = [arn for g in found for arn in g.get("LoadBalancerArns") or []]
        if any(group["arn"] in _forwarded_to(client, arn) for arn in balancers):
            used.append(group)
    return used


def _forwarded_to(client: Any, balancer: str) -> set[str]:
    """The target groups a load balancer's listeners forward to (none when it is gone)."""
    try:
        listeners = client.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    except client.exceptions.LoadBalancerNotFoundException:
        return set()
    return {
        action["TargetGroupArn"]
        for listener in listeners
        for action in listener.get("DefaultActions") or []
        if action.get("TargetGroupArn")
    }


def drain_leaving(targets: Targets, connections: Optional[NodeConnections] = None) -> None:
    """Drain a leaving node from the groups in use (until idle, when the node can be asked); none in
    use: done at once, and said."""
    if not targets.groups:
        return
    used = groups_in_use(targets.region, list(targets.groups))
    if not used:
        say(f"{targets.node}: its load balancer is gone; nothing to drain")
        return
    replace(targets, groups=used).drain(connections)
