"""How a site's nodes are installed and changed: in order, never more than one node out of service.

Two phases, each node after the previous one is back:

    instances:  InstanceStopDrain(0) -> InstanceStopDrain(1) -> ...  (each waits for the node the previous
                  one took out to serve again: a new farm's instances launch together)
                InstanceStopDrain(i) -> instance(i) -> InstanceStartReturn(i)
    installs:   every InstanceStartReturn -> NodeDrain(0), beside preflight(every node) -> UpgradeWindow -> backup
                  -> [farm: stop-for-upgrade, every node: stops only a node on another minor line or mirror]
                  -> stage, install(0) -> NodeReturn(0) -> NodeDrain(1) -> ... -> UpgradeFinish

- A drain ends when the node has served no client for a settle time (its connections, asked on
  the node: providers/node_idle.py) or when its targets are `unused`, whichever comes first.

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

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import pulumi

from providers.archive_trust import ArchiveTrust, ArchiveTrustArgs, reported_sha256
from providers.backup import HomeBackup, HomeBackupArgs
from providers.node_rollout import (
    InstanceChangeArgs,
    InstanceStartReturn,
    InstanceStopDrain,
    NodeDrain,
    NodeReturn,
    NodeTargetsArgs,
)
from providers.os_refresh import RootVolumeReplacement, RootVolumeReplacementArgs
from providers.upgrade import UpgradeFinish, UpgradeFinishArgs, UpgradeWindow, UpgradeWindowArgs
from providers.versions import minor_line

from . import tags as tagging
from .host import MirrorHost, user_data_digest
from .host_files.specs import HOME_DIR
from .install import MirrorInstall, MirrorInstallArgs, preflight, staged_payload, stop_for_upgrade
from .load_balancer import MirrorLoadBalancer
from .node_command import node_command, node_connection

if TYPE_CHECKING:  # the site builds the rollout: the import goes the other way at run time
    from .site import MirrorSiteArgs

STOP_BITBUCKET = "sudo systemctl stop atlbitbucket 2>/dev/null || true"
# A busy mount fails the delete (and the `up`) rather than detach a home something still writes to.
RELEASE_HOME = f"{STOP_BITBUCKET}; sync; if mountpoint -q {HOME_DIR}; then sudo umount {HOME_DIR}; fi"

__all__ = ["FarmRollout", "FarmRolloutArgs", "instances_one_at_a_time", "minor_line", "STOP_BITBUCKET", "RELEASE_HOME"]


@dataclass(frozen=True)
class FarmRolloutArgs:
    site: MirrorSiteArgs
    installs: Sequence[MirrorInstallArgs]  # one per node, in order
    load_balancer: Optional[MirrorLoadBalancer]
    instances_done: Sequence[pulumi.Resource] = ()  # instances_one_at_a_time's last step
    warn_to: Optional[str] = None  # the site's URN: preview warnings appear under it
    clustered: bool = False


class FarmRollout:
    """A site's install phase. Not a ComponentResource of its own: its steps are children of the site
    (`opts.parent`) under the names they always had, so that no URN of a running stack changes (a
    component in between would move every one of them, and every node's install with them)."""

    def __init__(self, name: str, args: FarmRolloutArgs, opts: pulumi.ResourceOptions):
        site_args, install_args, lb = args.site, args.installs, args.load_balancer
        instances_done, warn_to, clustered = args.instances_done, args.warn_to, args.clustered
        parent = opts.parent
        mirror, primary = site_args.mirror, site_args.primary
        nodes = len(install_args)
        farm = nodes > 1
        child = pulumi.ResourceOptions(parent=parent)
        connections = [node_connection(a.host, a.login_private_key, a.bastion) for a in install_args]
        # Every node can run the target version before the first one is stopped. Node 0 verifies the
        # archive first; the sha256 it verified is recorded per version (trust on first use), and every
        # other node, and every install, must download exactly those bytes.
        first = preflight(f"{name}-node0-preflight", install_args[0], connections[0], child)
        trust = ArchiveTrust(
            f"{name}-archive-trust",
            ArchiveTrustArgs(
                site=name,
                version=mirror.bitbucket_version,
                reported=first.stdout.apply(lambda out: reported_sha256(out, mirror.bitbucket_version)),
            ),
            opts=child,
        )
        install_args = [replace(a, trusted_sha256=trust.sha256) for a in install_args]
        checked = [first] + [
            preflight(f"{name}-node{i}-preflight", args, connection, child)
            for i, (args, connection) in enumerate(zip(install_args, connections))
            if i
        ]
        node_names = [f"{name}-node{i}" for i in range(nodes)]
        restore_from = mirror.restore_from
        self.window = UpgradeWindow(
            f"{name}-upgrade",
            UpgradeWindowArgs(
                mirror_url=mirror.base_url,
                version=mirror.bitbucket_version,
                version_key=f"mirrors[{site_args.site.index}].bitbucketVersion",
                farm=farm,
                ca_bundle=primary.ca_bundle,
                clustered=clustered,
                nodes=nodes,
                warn_to=warn_to,
                restore_from=restore_from,
                restore_key=f"mirrors[{site_args.site.index}].restoreFrom",
                region=site_args.region,
                snapshot_tags=tagging.site_tags(site_args.stack, name),
                snapshot_keys=tagging.SNAPSHOT_KEYS,
                node_names=node_names,
                generation=install_args[0].generation,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*checked, *instances_done]),
        )
        # Each home snapshotted before the first node stops for an upgrade or a rebuild.
        self.backup = home_backup(
            name,
            site_args,
            install_args,
            node_names,
            restore_from,
            pulumi.ResourceOptions(parent=parent, depends_on=[self.window]),
        )
        stops: list[pulumi.Resource] = []
        self.installs: list[MirrorInstall] = []
        self.returns: list[NodeReturn] = []
        # The first node leaves the load balancer while every node's preflight runs: draining stops
        # nothing (the node finishes its clones), and waiting out its clones is most of a rollout's
        # time. Only what changes the node (its root volume, a stop, the install) waits for the
        # preflight, the upgrade window and the backup. Not before an instance change is done: that
        # node would be out at the same time.
        previous: list[pulumi.Resource] = list(instances_done)
        groups = lb.target_groups if lb is not None else []
        for i, args in enumerate(install_args):
            node = f"{name}-node{i}"
            payload, digest = staged_payload(args)
            host = args.host
            # Deleted before the node's home is detached (a leaving node, a new instance, a home
            # restored from a snapshot): the engine replaces what reads the attachment's id before a
            # delete-before-replace attachment goes, so Bitbucket stops and the home is unmounted
            # while the instance still runs, and EC2's detach never finds the volume busy.
            retire = node_command(
                f"{node}-retire",
                connections[i],
                "true",
                pulumi.ResourceOptions(parent=parent, depends_on=[host.home_attachment]),
                delete=RELEASE_HOME,
                triggers=[host.home_attachment.id],
            )
            targets = NodeTargetsArgs(
                region=site_args.region,
                instance_id=host.instance_id,
                target_groups=groups,
                install_digest=digest,
                node=node,
                mirror_url=mirror.base_url,
                address=host.private_ip,
                version=mirror.bitbucket_version,
                farm=clustered,
                ca_bundle=primary.ca_bundle,
                nodes=nodes,
                warn_to=warn_to,
                os_image=mirror.os_image or "",
                load_balancer=lb.arn_suffix if lb is not None else None,
            )
            attachments = lb.node_attachments[i] if lb is not None else []
            drain = NodeDrain(
                f"{node}-drain",
                targets,
                opts=pulumi.ResourceOptions(
                    parent=parent, depends_on=[*previous, retire, *attachments, host.home_attachment]
                ),
            )
            if farm and i == 0:
                # Once the first node is drained (the others still serve it), every node that cannot
                # join the farm it will start stops: a minor upgrade's or a new mirror's outage begins.
                stops = [
                    stop_for_upgrade(
                        f"{name}-node{k}-stop-for-upgrade",
                        a,
                        connections[k],
                        pulumi.ResourceOptions(parent=parent, depends_on=[drain, self.backup]),
                    )
                    for k, a in enumerate(install_args)
                ]
            # A new osImage: the node's root volume is replaced from the image while it is out.
            refresh = RootVolumeReplacement(
                f"{node}-os-image",
                RootVolumeReplacementArgs(
                    region=site_args.region,
                    instance_id=host.instance_id,
                    image_id=image_for(mirror.os_image, host.image),
                    os_image=mirror.os_image or "",
                    node=node,
                    nodes=nodes,
                    warn_to=warn_to,
                ),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[drain, self.backup]),
            )
            install = MirrorInstall(
                node,
                replace(
                    args,
                    wait_for=(drain, refresh, self.backup, *stops),
                    drained=drain.drains,
                    staged=(payload, digest),
                    connection=connections[i],
                ),
                opts=child,
            )
            self.installs.append(install)
            previous = [
                NodeReturn(f"{node}-return", targets, opts=pulumi.ResourceOptions(parent=parent, depends_on=[install]))
            ]
            self.returns.append(previous[0])
        self.returned = previous
        self.first_back = self.returns[0]
        if farm:
            UpgradeFinish(
                f"{name}-upgrade-finish",
                UpgradeFinishArgs(
                    mirror_url=mirror.base_url,
                    version=mirror.bitbucket_version,
                    kind=self.window.kind,
                    farm=farm,
                    ca_bundle=primary.ca_bundle,
                    zdu_started=self.window.zdu_started,
                ),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
            )


def home_backup(
    name: str,
    site_args: MirrorSiteArgs,
    install_args: Sequence[MirrorInstallArgs],
    node_names: Sequence[str],
    restore_from: Optional[str],
    opts: pulumi.ResourceOptions,
) -> HomeBackup:
    backup = site_args.site.backup  # the stack-wide keys with the site's own applied
    stack = site_args.stack
    homes = pulumi.Output.all(*[a.host.home_volume_id for a in install_args]).apply(
        lambda ids: [
            {"node": node, "volume_id": volume, "tags": tagging.snapshot_tags(stack, name, node)}
            for node, volume in zip(node_names, ids)
        ]
    )
    return HomeBackup(
        f"{name}-backup",
        HomeBackupArgs(
            region=site_args.region,
            site=name,
            homes=homes,
            keys=tagging.SNAPSHOT_KEYS,
            version=site_args.mirror.bitbucket_version,
            generation=install_args[0].generation or "",
            keep=backup.keep,
            enabled=backup.enabled,
            restore_from=restore_from,
        ),
        opts=opts,
    )


def image_for(os_image: Optional[str], current: pulumi.Input[str]) -> pulumi.Input[str]:
    """The image a node moves to when osImage changes: the AMI it pins, or the current lookup."""
    return os_image if os_image and os_image.startswith("ami-") else current


def instances_one_at_a_time(
    name: str,
    site_args: MirrorSiteArgs,
    lb: Optional[MirrorLoadBalancer],
    node: Callable[[int, Sequence[pulumi.Resource]], MirrorHost],
    parent: pulumi.Resource,
    warn_to: Optional[str] = None,
    clustered: bool = False,
) -> tuple[list[MirrorHost], list[pulumi.Resource]]:
    """A site's nodes, each instance changed only while the others serve: a change that stops an
    instance (its type, its user data) drains that node first, and the next node leaves only once
    every other node serves again. The order is kept by the drains alone (each after the previous
    node's drain, and it waits at run time for the others to serve, InstanceStopDrainProvider), not
    by the instances: a new farm's instances launch in parallel, as fast as a single node's. Returns
    the hosts and the steps that say every node is back."""
    mirror = site_args.mirror
    groups = lb.target_groups if lb is not None else []
    hosts: list[MirrorHost] = []
    previous: list[InstanceStopDrain] = []
    leaves: list[InstanceStopDrain] = []
    returns: list[pulumi.Resource] = []
    for i in range(mirror.nodes):
        label = f"{name}-node{i}"
        # What will make EC2 stop and start the instance, known before the instance changes.
        leave = InstanceStopDrain(
            f"{label}-stop-drain",
            InstanceChangeArgs(
                region=site_args.region,
                target_groups=groups,
                node=label,
                instance_type=mirror.instance_type,
                instance_tags=tagging.node_tags(site_args.stack, name, label),
                nodes=mirror.nodes,
                warn_to=warn_to,
                user_data_digest=user_data_digest(site_args.stack, label),
                load_balancer=lb.arn_suffix if lb is not None else None,
                after=previous[0].left if previous else None,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
        )
        host = node(i, [leave])
        hosts.append(host)
        leaves.append(leave)
        previous = [leave]
        returns.append(
            InstanceStartReturn(
                f"{label}-start-return",
                InstanceChangeArgs(
                    region=site_args.region,
                    target_groups=groups,
                    node=label,
                    instance_type=mirror.instance_type,
                    instance_id=host.instance_id,
                    mirror_url=mirror.base_url,
                    address=host.private_ip,
                    farm=clustered,
                    ca_bundle=site_args.primary.ca_bundle,
                    user_data_digest=user_data_digest(site_args.stack, label),
                    nodes=mirror.nodes,
                    warn_to=warn_to,
                ),
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    if lb is not None:
        lb.attach([h.instance_id for h in hosts])
    return hosts, returns
