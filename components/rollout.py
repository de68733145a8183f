"""How a site's nodes are installed and changed: in order, one node out of service at a time.

    preflight(every node) -> UpgradeWindow -> [farm: stop every node on a minor/major upgrade]
      -> NodeDrain(0) -> install(0) -> NodeReturn(0) -> NodeDrain(1) -> install(1) -> ... -> UpgradeFinish

    InstanceStopDrain(0) -> instance(0) -> InstanceStartReturn(0) -> InstanceStopDrain(1) -> ...

Behind a load balancer each node leaves it (connections drained) before its install runs again and
comes back (healthy, and listed by the farm on the new version) before the next node leaves. A
removed node is drained, then Bitbucket is stopped on it, before its instance is deleted. A
bug-fix upgrade of a farm runs inside the farm's upgrade mode; a minor or major one stops every
node first, since nodes of different minor versions cannot form one cluster. Every node checks the
target version's runtime (preflight) before any node is stopped. An instance that EC2 stops for a
change (its type) leaves the load balancer first and is back before the next one changes.

The resources are children of the site, under the names they always had: no URN changes.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Sequence

import pulumi
from pulumi_command import remote

from providers.farm_rollout import (InstanceChangeArgs, InstanceStartReturn, InstanceStopDrain, NodeDrain, NodeReturn,
                                    NodeTargetsArgs, UpgradeFinish, UpgradeFinishArgs, UpgradeWindow,
                                    UpgradeWindowArgs)

from .host import MirrorHost
from .install import MirrorInstall, MirrorInstallArgs, node_connection, preflight, staged_payload
from .load_balancer import MirrorLoadBalancer

STOP_BITBUCKET = "sudo systemctl stop atlbitbucket 2>/dev/null || true"


def minor_line(version: str) -> str:
    """major.minor: nodes on the same line can upgrade one at a time, others cannot."""
    return ".".join(version.split(".")[:2])


class FarmRollout:
    def __init__(self, name: str, site_args, install_args: Sequence[MirrorInstallArgs],
                 lb: Optional[MirrorLoadBalancer], parent: pulumi.Resource):
        mirror, primary = site_args.mirror, site_args.primary
        farm = len(install_args) > 1
        child = pulumi.ResourceOptions(parent=parent)
        connections = [node_connection(a.host, a.login_private_key, a.bastion) for a in install_args]
        # Every node can run the target version before the first one is stopped.
        checked = [preflight(f"{name}-node{i}-preflight", args, connection, child)
                   for i, (args, connection) in enumerate(zip(install_args, connections))]
        self.window = UpgradeWindow(f"{name}-upgrade", UpgradeWindowArgs(
            mirror_url=mirror.base_url, version=mirror.bitbucket_version,
            version_key=f"mirrors[{site_args.site.index}].bitbucketVersion", farm=farm,
            ca_bundle=primary.ca_bundle), opts=pulumi.ResourceOptions(parent=parent, depends_on=checked))
        before_first: list[pulumi.Resource] = [self.window]
        if farm:
            # Runs again whenever the minor line changes: every node stops before the first upgrades.
            before_first += [remote.Command(
                f"{name}-node{i}-stop-for-upgrade", connection=connection, create=STOP_BITBUCKET,
                triggers=[minor_line(mirror.bitbucket_version)],
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.window]))
                for i, connection in enumerate(connections)]

        self.installs: list[MirrorInstall] = []
        previous: list[pulumi.Resource] = before_first
        for i, args in enumerate(install_args):
            node = f"{name}-node{i}"
            payload, digest = staged_payload(args)
            wait_for = list(previous)
            targets = None
            if lb is not None:
                # Deleted before the attachments and the instance: a leaving node drains, then stops.
                retire = remote.Command(f"{node}-retire", connection=connections[i], create="true",
                                        delete=STOP_BITBUCKET, opts=child)
                targets = NodeTargetsArgs(
                    region=site_args.region, instance_id=args.host.instance_id, target_groups=lb.target_groups,
                    install_digest=digest, node=node, mirror_url=mirror.base_url, address=args.host.private_ip,
                    version=mirror.bitbucket_version, farm=farm, ca_bundle=primary.ca_bundle)
                drain = NodeDrain(f"{node}-drain", targets, opts=pulumi.ResourceOptions(
                    parent=parent, depends_on=[*previous, retire, *lb.node_attachments[i]]))
                wait_for = [drain]
            install = MirrorInstall(node, replace(args, wait_for=tuple(wait_for)), opts=child, staged=(payload, digest),
                                    connection=connections[i])
            self.installs.append(install)
            previous = [install]
            if targets is not None:
                previous = [NodeReturn(f"{node}-return", targets,
                                       opts=pulumi.ResourceOptions(parent=parent, depends_on=[install]))]
        if farm:
            UpgradeFinish(f"{name}-upgrade-finish", UpgradeFinishArgs(
                mirror_url=mirror.base_url, version=mirror.bitbucket_version, kind=self.window.kind, farm=farm,
                ca_bundle=primary.ca_bundle), opts=pulumi.ResourceOptions(parent=parent, depends_on=previous))


def instances_one_at_a_time(name: str, site_args, lb: MirrorLoadBalancer,
                            node: Callable[[int, Sequence[pulumi.Resource]], MirrorHost],
                            parent: pulumi.Resource) -> list[MirrorHost]:
    """A site's nodes behind its load balancer, each instance changed only while the previous node
    serves again: a change that stops an instance (its type) drains that node first, and the next
    node leaves only once it is back. New instances are created in the same order."""
    mirror = site_args.mirror
    hosts: list[MirrorHost] = []
    previous: list[pulumi.Resource] = []
    for i in range(mirror.nodes):
        label = f"{name}-node{i}"
        common = dict(region=site_args.region, target_groups=lb.target_groups, node=label,
                      instance_type=mirror.instance_type)
        leave = InstanceStopDrain(f"{label}-stop-drain", InstanceChangeArgs(
            **common, instance_tags={"Name": label, "bitbucket-mirrors:site": name,
                                     "bitbucket-mirrors:stack": site_args.stack}),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous))
        host = node(i, [leave])
        hosts.append(host)
        previous = [InstanceStartReturn(f"{label}-start-return", InstanceChangeArgs(
            **common, instance_id=host.instance_id, mirror_url=mirror.base_url, address=host.private_ip,
            farm=mirror.nodes > 1, ca_bundle=site_args.primary.ca_bundle), opts=pulumi.ResourceOptions(parent=parent))]
    lb.attach([h.instance_id for h in hosts])
    return hosts
