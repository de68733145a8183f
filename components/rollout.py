"""How a site's nodes are installed and changed: in order, never more than one node out of service.

Two phases, each node after the previous one is back:

    instances:  InstanceStopDrain(0) -> instance(0) -> InstanceStartReturn(0) -> InstanceStopDrain(1) -> ...
    installs:   preflight(every node), every InstanceStartReturn -> UpgradeWindow
                  -> [farm: stop-for-upgrade, every node: stops only a node on another minor line or mirror]
                  -> NodeDrain(0) -> stage, install(0) -> NodeReturn(0) -> NodeDrain(1) -> ... -> UpgradeFinish

- A change EC2 makes by stopping and starting an instance (its type, its user data) drains the node
  first and waits for it to be back (healthy, and in its farm) before the next node's turn.
- The install phase starts only when every instance change is done, so a version and an instance
  type change in one `up` never have two nodes out at once.
- Every node checks the target version's runtime, and downloads its archive, before any node stops.
- A bug-fix upgrade of a farm runs in the farm's upgrade mode; a minor or major upgrade, or a new
  mirror (MirrorGeneration), stops every node first: nodes of different minor lines or mirrors
  cannot form one cluster. The first node back serves alone; the others follow one at a time.
- A removed node is drained, then Bitbucket is stopped on it (retire), then its home is detached
  and its instance and volume go (the engine deletes dependents first).
- Without a load balancer (nginx) the same steps run with no targets: they only say at preview
  what a change costs.

The resources are children of the site, under the names they always had: no URN changes.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Sequence

import pulumi
from providers.node_rollout import (InstanceChangeArgs, InstanceStartReturn, InstanceStopDrain, NodeDrain,
                                    NodeReturn, NodeTargetsArgs)
from providers.upgrade import UpgradeFinish, UpgradeFinishArgs, UpgradeWindow, UpgradeWindowArgs
from providers.versions import minor_line

from . import tags as tagging
from .host import MirrorHost, user_data_digest
from .install import (MirrorInstall, MirrorInstallArgs, node_command, node_connection, preflight, staged_payload,
                      stop_for_upgrade)
from .load_balancer import MirrorLoadBalancer

STOP_BITBUCKET = "sudo systemctl stop atlbitbucket 2>/dev/null || true"

__all__ = ["FarmRollout", "instances_one_at_a_time", "minor_line", "STOP_BITBUCKET"]


class FarmRollout:
    def __init__(self, name: str, site_args, install_args: Sequence[MirrorInstallArgs],
                 lb: Optional[MirrorLoadBalancer], parent: pulumi.Resource,
                 instances_done: Sequence[pulumi.Resource] = (), warn_to: Optional[str] = None,
                 clustered: bool = False):
        mirror, primary = site_args.mirror, site_args.primary
        nodes = len(install_args)
        farm = nodes > 1
        child = pulumi.ResourceOptions(parent=parent)
        connections = [node_connection(a.host, a.login_private_key, a.bastion) for a in install_args]
        # Every node can run the target version before the first one is stopped.
        checked = [preflight(f"{name}-node{i}-preflight", args, connection, child)
                   for i, (args, connection) in enumerate(zip(install_args, connections))]
        self.window = UpgradeWindow(f"{name}-upgrade", UpgradeWindowArgs(
            mirror_url=mirror.base_url, version=mirror.bitbucket_version,
            version_key=f"mirrors[{site_args.site.index}].bitbucketVersion", farm=farm,
            ca_bundle=primary.ca_bundle, clustered=clustered, nodes=nodes, warn_to=warn_to),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*checked, *instances_done]))
        stops: list[pulumi.Resource] = []
        self.installs: list[MirrorInstall] = []
        self.returns: list[NodeReturn] = []
        previous: list[pulumi.Resource] = [self.window]
        groups = lb.target_groups if lb is not None else []
        for i, args in enumerate(install_args):
            node = f"{name}-node{i}"
            payload, digest = staged_payload(args)
            host = args.host
            # Deleted before the node's home is detached: a leaving node drains, then stops.
            retire = node_command(f"{node}-retire", connections[i], "true",
                                  pulumi.ResourceOptions(parent=parent, depends_on=[host.home_attachment]),
                                  delete=STOP_BITBUCKET)
            targets = NodeTargetsArgs(
                region=site_args.region, instance_id=host.instance_id, target_groups=groups,
                install_digest=digest, node=node, mirror_url=mirror.base_url, address=host.private_ip,
                version=mirror.bitbucket_version, farm=clustered, ca_bundle=primary.ca_bundle, nodes=nodes,
                warn_to=warn_to)
            attachments = lb.node_attachments[i] if lb is not None else []
            drain = NodeDrain(f"{node}-drain", targets, opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[*previous, retire, *attachments, host.home_attachment]))
            if farm and i == 0:
                # Once the first node is drained (the others still serve it), every node that cannot
                # join the farm it will start stops: a minor upgrade's or a new mirror's outage begins.
                stops = [stop_for_upgrade(f"{name}-node{k}-stop-for-upgrade", a, connections[k],
                                          pulumi.ResourceOptions(parent=parent, depends_on=[drain]))
                         for k, a in enumerate(install_args)]
            install = MirrorInstall(node, replace(args, wait_for=(drain, *stops), drained=drain.drains), opts=child,
                                    staged=(payload, digest), connection=connections[i])
            self.installs.append(install)
            previous = [NodeReturn(f"{node}-return", targets,
                                   opts=pulumi.ResourceOptions(parent=parent, depends_on=[install]))]
            self.returns.append(previous[0])
        self.returned = previous
        self.first_back = self.returns[0]
        if farm:
            UpgradeFinish(f"{name}-upgrade-finish", UpgradeFinishArgs(
                mirror_url=mirror.base_url, version=mirror.bitbucket_version, kind=self.window.kind, farm=farm,
                ca_bundle=primary.ca_bundle, zdu_started=self.window.zdu_started),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=previous))


def instances_one_at_a_time(name: str, site_args, lb: Optional[MirrorLoadBalancer],
                            node: Callable[[int, Sequence[pulumi.Resource]], MirrorHost],
                            parent: pulumi.Resource, warn_to: Optional[str] = None,
                            clustered: bool = False) -> tuple[list[MirrorHost], list[pulumi.Resource]]:
    """A site's nodes, each instance changed only while the previous node serves again: a change
    that stops an instance (its type, its user data) drains that node first, and the next node
    leaves only once it is back. New instances are created in the same order. Returns the hosts
    and the steps that say the last node is back."""
    mirror = site_args.mirror
    groups = lb.target_groups if lb is not None else []
    hosts: list[MirrorHost] = []
    previous: list[pulumi.Resource] = []
    leaves: list[InstanceStopDrain] = []
    for i in range(mirror.nodes):
        label = f"{name}-node{i}"
        # What will make EC2 stop and start the instance, known before the instance changes.
        leave = InstanceStopDrain(f"{label}-stop-drain", InstanceChangeArgs(
            region=site_args.region, target_groups=groups, node=label, instance_type=mirror.instance_type,
            instance_tags=tagging.node_tags(site_args.stack, name, label), nodes=mirror.nodes, warn_to=warn_to,
            user_data_digest=user_data_digest(site_args.stack, label)),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous))
        host = node(i, [leave])
        hosts.append(host)
        leaves.append(leave)
        previous = [InstanceStartReturn(f"{label}-start-return", InstanceChangeArgs(
            region=site_args.region, target_groups=groups, node=label, instance_type=mirror.instance_type,
            instance_id=host.instance_id, mirror_url=mirror.base_url, address=host.private_ip, farm=clustered,
            ca_bundle=site_args.primary.ca_bundle, user_data_digest=user_data_digest(site_args.stack, label),
            nodes=mirror.nodes,
            warn_to=warn_to), opts=pulumi.ResourceOptions(parent=parent))]
    if lb is not None:
        lb.attach([h.instance_id for h in hosts])
    return hosts, previous
