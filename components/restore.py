"""A way back: `mirrors[].restoreFrom: <version>` (with `bitbucketVersion` the same) gives every node
a home created from its newest snapshot of that version (providers/backup.py takes them).

The home volume's `snapshot_id` is set only while restoring; it is Optional and Computed in
terraform-provider-aws's aws_ebs_volume, so removing restoreFrom afterwards keeps the restored
volume (no diff), and a new snapshot id replaces the volume: the node's retire command stops
Bitbucket and unmounts the old home before it is detached (components/rollout.py).

The restored home holds the mirror it held when it was snapshotted, so the approval on the primary
stays: it is tied to the volume the snapshot was taken from, not to the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from . import tags as tagging


@dataclass(frozen=True)
class RestoredHome:
    """The snapshot a node's home is created from (mirrors[].restoreFrom), looked up at run time."""

    # None: no snapshot of the version (the window refuses).
    snapshot_id: pulumi.Output[Optional[str]]
    # The volume it was taken from.
    source_volume_id: pulumi.Output[Optional[str]]


def restored_home(
    region: str, stack: str, site: str, node: str, version: str, opts: Optional[pulumi.InvokeOptions] = None
) -> RestoredHome:
    """The node's newest completed snapshot holding `version` (the data source sorts newest first)."""
    wanted = {**tagging.snapshot_tags(stack, site, node), tagging.HOLDS: version}
    filters = [
        aws.ebs.GetSnapshotIdsFilterArgs(name=f["Name"], values=f["Values"]) for f in tagging.tag_filters(wanted)
    ]
    filters.append(aws.ebs.GetSnapshotIdsFilterArgs(name="status", values=["completed"]))
    found = aws.ebs.get_snapshot_ids_output(owners=["self"], filters=filters, region=region, opts=opts)
    snapshot_id = found.ids.apply(lambda ids: ids[0] if ids else None)

    def source(snapshot: Optional[str]) -> pulumi.Output[Optional[str]]:
        if snapshot is None:
            return pulumi.Output.from_input(None)
        return aws.ebs.get_snapshot_output(snapshot_ids=[snapshot], owners=["self"], region=region, opts=opts).volume_id

    return RestoredHome(snapshot_id, snapshot_id.apply(source))
