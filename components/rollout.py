"""How a site's nodes are installed and changed: in order, never more than one node out of service.

One drain per node per `up`, each node after the previous one is back:

    instances:  InstanceStopDrain(i) -> instance(i) -> InstanceStartReturn(i)  (a new farm's instances
                  launch together; a type or user data change never stops an instance here)
    nodes:      every InstanceStartReturn -> NodeDrain(0), beside preflight(every node, at once) -> ArchiveTrust
                  -> UpgradeWindow -> backup
                  -> [farm: stop-for-upgrade, every node: stops only a node on another minor line or mirror]
                  -> InstanceModification(0) (type, user data) -> RootVolumeReplacement(0) (osImage)
                  -> stage, install(0) -> NodeReturn(0) -> NodeDrain(1) -> ... -> UpgradeFinish

- A drain ends when the node has served no client for a settle time (its connections, asked on
  the node: providers/node_idle.py) or when its targets are `unused`, whichever comes first.

- Everything a node needs in this `up` (its instance type and user data: a stop, modify and start
  made by InstanceModification; its OS image; its install) happens inside its one drain, and the
  node is back (healthy, and in its farm) before the next node's turn. The aws.ec2.Instance
  ignores type and user data (components/host.py), so no instance stops before every node's
  preflight has run; only what replaces an instance happens before the drains.
- Every node checks the target version's runtime, and downloads its archive, before any node stops.
- A bug-fix upgrade of a farm runs in the farm's upgrade mode; a minor or major upgrade, or a new
  mirror (MirrorGeneration), stops every node first: nodes of different minor lines or mirrors
  cannot form one cluster. The first node back serves alone; the others follow one at a time.
- A removed node is drained, then Bitbucket is stopped on it (retire), then its home is detached
  and its instance and volume go (the engine deletes dependents first).
- Without a load balancer (nginx) the same steps run with no targets: they only say at preview
  what a change costs.

The site decides what happens (components/plan.py RolloutPlan) and the rollout builds it: it calls
nothing back in the site. The resources are children of the site, under the names they always had:
no URN changes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import pulumi
from pulumi_command import remote

from providers.archive_trust import ArchiveTrust, ArchiveTrustArgs, reported_sha256
from providers.backup import HomeBackup, HomeBackupArgs
from providers.instance_change import InstanceModification, InstanceModificationArgs
from providers.node_rollout import NodeDrain, NodeReturn, NodeTargetsArgs
from providers.os_refresh import RootVolumeReplacement, RootVolumeReplacementArgs
from providers.upgrade import UpgradeFinish, UpgradeFinishArgs, UpgradeWindow, UpgradeWindowArgs
from providers.versions import minor_line

from . import tags as tagging
from .host_files.specs import HOME_DIR
from .install import MirrorInstall, MirrorInstallArgs, preflight, staged_payload, stop_for_upgrade
from .instance_phase import instances_one_at_a_time
from .node_command import node_command, node_connection
from .plan import RolloutPlan

STOP_BITBUCKET = "sudo systemctl stop atlbitbucket 2>/dev/null || true"
# A busy mount fails the delete (and the `up`) rather than detach a home something still writes to.
RELEASE_HOME = f"{STOP_BITBUCKET}; sync; if mountpoint -q {HOME_DIR}; then sudo umount {HOME_DIR}; fi"

__all__ = ["FarmRollout", "instances_one_at_a_time", "minor_line", "STOP_BITBUCKET", "RELEASE_HOME"]


class FarmRollout:
    """A site's nodes and their rollout: the instance phase, then the install phase (the module's
    docstring). Not a ComponentResource of its own: its steps are children of the site
    (`opts.parent`) under the names they always had, so that no URN of a running stack changes (a
    component in between would move every one of them, and every node's install with them).

    After construction: `hosts` (the nodes' MirrorHosts, in order), `installs`, `returns` (each
    node's NodeReturn), `addresses` (where each node answers once its instance step is done: a stop
    and start moves a public address), `first_back` (node 0's: the site is approved once it serves),
    `window` and `backup`."""

    def __init__(self, plan: RolloutPlan, opts: pulumi.ResourceOptions):
        parent = opts.parent
        self.hosts, instances_done = instances_one_at_a_time(plan, parent)
        install_args = [replace(plan.install, host=host) for host in self.hosts]
        # Where each node answers now (an earlier `up` may have stopped and started it: a new public
        # address): what every command before its drain connects to.
        connections = [
            node_connection(a.host, a.login_private_key, a.bastion, address=back.address)
            for a, back in zip(install_args, instances_done)
        ]
        install_args, checked = _preflights(plan, install_args, connections, parent)
        self.window = upgrade_window(
            plan, install_args, pulumi.ResourceOptions(parent=parent, depends_on=[*checked, *instances_done])
        )
        # Each home snapshotted before the first node stops for an upgrade or a rebuild.
        self.backup = home_backup(plan, install_args, pulumi.ResourceOptions(parent=parent, depends_on=[self.window]))
        self.installs: list[MirrorInstall] = []
        self.returns: list[NodeReturn] = []
        self.addresses: list[pulumi.Output[str]] = []
        # The first node leaves the load balancer while every node's preflight runs: draining stops
        # nothing (the node finishes its clones), and waiting out its clones is most of a rollout's
        # time. Only what changes the node (its root volume, a stop, the install) waits for the
        # preflights, the archive's trust, the upgrade window and the backup. Not before an instance
        # change is done: that node would be out at the same time. So node 0's drain, behind a load
        # balancer, cannot wait for the sha256 the preflights agree on: it carries its bundle's digest
        # without it, which differs from its install's only for a version re-trusted
        # (RETRUST_VARIABLE), whose install refuses the tree unpacked from the old bytes before it
        # stops anything. Not by node count: scaling across one node must not change node 0's drain.
        previous: list[pulumi.Resource] = list(instances_done)
        stops: list[pulumi.Resource] = []
        for i, args in enumerate(install_args):
            staged = staged_payload(args)  # the node's bundle and its digest: a new digest installs again
            early = plan.load_balancer is not None and i == 0
            digest = staged_payload(replace(args, trusted_sha256=None))[1] if early else staged[1]
            drain, targets = self._drain(plan, i, args, digest, connections[i], previous, parent)
            if plan.multi_node and i == 0:
                # Once the first node is drained (the others still serve it), every node that cannot
                # join the farm it will start stops: a minor upgrade's or a new mirror's outage begins.
                stops = [
                    stop_for_upgrade(
                        f"{node.name}-stop-for-upgrade",
                        a,
                        connections[k],
                        pulumi.ResourceOptions(parent=parent, depends_on=[drain, self.backup]),
                    )
                    for k, (node, a) in enumerate(zip(plan.nodes, install_args))
                ]
            returned = self._install(plan, i, args, staged, (drain, targets), stops, parent)
            previous = [returned]
        self.returned = previous
        self.first_back = self.returns[0]
        if plan.multi_node:
            UpgradeFinish(
                f"{plan.name}-upgrade-finish",
                UpgradeFinishArgs(
                    mirror_url=plan.mirror.base_url,
                    version=plan.mirror.bitbucket_version,
                    kind=self.window.kind,
                    farm=plan.multi_node,
                    ca_bundle=plan.ca_bundle,
                    zdu_started=self.window.zdu_started,
                ),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
            )

    def _drain(
        self,
        plan: RolloutPlan,
        i: int,
        args: MirrorInstallArgs,
        digest: pulumi.Output[str],
        connection: remote.ConnectionArgs,
        previous: Sequence[pulumi.Resource],
        parent: pulumi.Resource,
    ) -> tuple[NodeDrain, NodeTargetsArgs]:
        """Node i's retire step and its drain (after the previous node is back)."""
        node, host = plan.nodes[i].name, args.host
        # Deleted before the node's home is detached (a leaving node, a new instance, a home
        # restored from a snapshot): the engine replaces what reads the attachment's id before a
        # delete-before-replace attachment goes, so Bitbucket stops and the home is unmounted
        # while the instance still runs, and EC2's detach never finds the volume busy.
        retire = node_command(
            f"{node}-retire",
            connection,
            "true",
            pulumi.ResourceOptions(parent=parent, depends_on=[host.home_attachment]),
            delete=RELEASE_HOME,
            triggers=[host.home_attachment.id],
        )
        targets = NodeTargetsArgs(
            region=plan.region,
            instance_id=host.instance_id,
            target_groups=plan.target_groups,
            install_digest=digest,
            node=node,
            mirror_url=plan.mirror.base_url,
            address=host.private_ip,
            version=plan.mirror.bitbucket_version,
            farm=plan.clustered,
            ca_bundle=plan.ca_bundle,
            nodes=len(plan.nodes),
            warn_to=plan.warn_to,
            os_image=plan.mirror.os_image or "",
            load_balancer=plan.lb_arn_suffix,
            instance_type=plan.mirror.instance_type,
            user_data_digest=plan.nodes[i].user_data_digest,
            instance_tags=plan.nodes[i].instance_tags,
        )
        attachments = plan.load_balancer.node_attachments[i] if plan.load_balancer is not None else []
        drain = NodeDrain(
            f"{node}-drain",
            targets,
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[*previous, retire, *attachments, host.home_attachment]
            ),
        )
        return drain, targets

    def _install(
        self,
        plan: RolloutPlan,
        i: int,
        args: MirrorInstallArgs,
        staged: tuple[pulumi.Output[str], pulumi.Output[str]],
        drained: tuple[NodeDrain, NodeTargetsArgs],
        stops: Sequence[pulumi.Resource],
        parent: pulumi.Resource,
    ) -> NodeReturn:
        """Node i, drained: its instance (type, user data), its root volume (a new osImage), its
        install, and its return."""
        node, host = plan.nodes[i].name, args.host
        drain, targets = drained
        changed = InstanceModification(
            f"{node}-instance-change",
            InstanceModificationArgs(
                region=plan.region,
                instance_id=host.instance_id,
                instance_type=plan.mirror.instance_type,
                user_data=host.user_data,
                user_data_digest=plan.nodes[i].user_data_digest,
                node=node,
                address=host.address,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[drain, self.backup]),
        )
        # A stop and start gives a public address a new one: the install connects where the node
        # answers after the change.
        self.addresses.append(changed.address)
        connection = node_connection(host, args.login_private_key, args.bastion, address=changed.address)
        # A new osImage: the node's root volume is replaced from the image while it is out.
        refresh = RootVolumeReplacement(
            f"{node}-os-image",
            RootVolumeReplacementArgs(
                region=plan.region,
                instance_id=host.instance_id,
                image_id=image_for(plan.mirror.os_image, host.image),
                os_image=plan.mirror.os_image or "",
                node=node,
                nodes=len(plan.nodes),
                warn_to=plan.warn_to,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[drain, changed, self.backup]),
        )
        install = MirrorInstall(
            node,
            replace(
                args,
                wait_for=(drain, changed, refresh, self.backup, *stops),
                drained=drain.drains,
                staged=staged,
                connection=connection,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.installs.append(install)
        returned = NodeReturn(
            f"{node}-return", targets, opts=pulumi.ResourceOptions(parent=parent, depends_on=[install])
        )
        self.returns.append(returned)
        return returned


def _preflights(
    plan: RolloutPlan,
    install_args: Sequence[MirrorInstallArgs],
    connections: Sequence[remote.ConnectionArgs],
    parent: pulumi.Resource,
) -> tuple[list[MirrorInstallArgs], list[pulumi.Resource]]:
    """Every node can run the target version before the first one is stopped. Every node downloads
    and verifies the archive on its own, all at once (none waits for another's download), and
    reports its sha256; ArchiveTrust takes every report, refuses bytes that differ between nodes or
    from what this site recorded for the version (trust on first use), and every install must use
    exactly the recorded bytes. Returns the install args with that sha256, and the preflights and
    the trust: no node stops before all of them are done."""
    child = pulumi.ResourceOptions(parent=parent)
    version = plan.mirror.bitbucket_version
    checks = [
        preflight(f"{node.name}-preflight", args, connection, child)
        for node, args, connection in zip(plan.nodes, install_args, connections)
    ]
    names = [node.name for node in plan.nodes]
    reports = pulumi.Output.all(*[check.stdout for check in checks]).apply(
        lambda outs: {name: reported_sha256(out, version) for name, out in zip(names, outs)}
    )
    trust = ArchiveTrust(
        f"{plan.name}-archive-trust",
        ArchiveTrustArgs(site=plan.name, version=version, reports=reports),
        opts=child,
    )
    trusted = [replace(a, trusted_sha256=trust.sha256) for a in install_args]
    return trusted, [*checks, trust]


def home_backup(
    plan: RolloutPlan, install_args: Sequence[MirrorInstallArgs], opts: pulumi.ResourceOptions
) -> HomeBackup:
    """The snapshot of every node's home, taken before the first node changes (providers/backup.py)."""
    backup = plan.site.backup  # the stack-wide keys with the site's own applied
    stack, name = plan.stack, plan.name
    node_names = [node.name for node in plan.nodes]
    homes = pulumi.Output.all(*[a.host.home_volume_id for a in install_args]).apply(
        lambda ids: [
            {"node": node, "volume_id": volume, "tags": tagging.snapshot_tags(stack, name, node)}
            for node, volume in zip(node_names, ids)
        ]
    )
    return HomeBackup(
        f"{name}-backup",
        HomeBackupArgs(
            region=plan.region,
            site=name,
            homes=homes,
            keys=tagging.SNAPSHOT_KEYS,
            version=plan.mirror.bitbucket_version,
            generation=install_args[0].generation or "",
            keep=backup.keep,
            enabled=backup.enabled,
            restore_from=plan.mirror.restore_from,
        ),
        opts=opts,
    )


def image_for(os_image: Optional[str], current: pulumi.Input[str]) -> pulumi.Input[str]:
    """The image a node moves to when osImage changes: the AMI it pins, or the current lookup."""
    return os_image if os_image and os_image.startswith("ami-") else current


def upgrade_window(
    plan: RolloutPlan, install_args: Sequence[MirrorInstallArgs], opts: pulumi.ResourceOptions
) -> UpgradeWindow:
    """The site's upgrade window (providers/upgrade.py): what kind of change this `up` makes to the
    version the nodes run, opened before the first node stops."""
    return UpgradeWindow(
        f"{plan.name}-upgrade",
        UpgradeWindowArgs(
            mirror_url=plan.mirror.base_url,
            version=plan.mirror.bitbucket_version,
            version_key=plan.key("bitbucketVersion"),
            farm=plan.multi_node,
            ca_bundle=plan.ca_bundle,
            clustered=plan.clustered,
            nodes=len(plan.nodes),
            warn_to=plan.warn_to,
            restore_from=plan.mirror.restore_from,
            restore_key=plan.key("restoreFrom"),
            region=plan.region,
            snapshot_tags=tagging.site_tags(plan.stack, plan.name),
            snapshot_keys=tagging.SNAPSHOT_KEYS,
            node_names=[node.name for node in plan.nodes],
            generation=install_args[0].generation,
        ),
        opts=opts,
    )
