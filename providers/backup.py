"""A site's homes snapshotted before a change that cannot be undone: a version upgrade (Bitbucket
is never downgraded in place) or a rebuild (a new mirror on emptied homes).

Before the first node stops, each node's home volume gets an EBS snapshot tagged with the site,
the stack, the node, the version its home holds, its mirror generation and the change it precedes;
the last `keep` per node are kept, older ones deleted. A snapshot is point-in-time when
CreateSnapshot returns and the volume stays in use (EBS User Guide, "Create Amazon EBS snapshots"):
it is crash-consistent, taken while the node serves, which a mirror (a copy of its primary,
resynchronised if need be) can start from. `mirrors[].restoreFrom` brings one back (components/
restore.py: each node's home volume created from its snapshot).

A retry never takes a second snapshot for the same change: one already tagged with the change is
used. The tag keys are facts/tags.py's (components/tags.py builds the tags); this step writes and
reads what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from facts.tags import NAME, tag_filters

from .base import StepProvider, inputs_of
from .messages import say
from .targets import ec2


@dataclass
class HomeBackupArgs:
    """What a site's home snapshots are taken of, when, and how many are kept."""

    # The site's region, where its volumes and snapshots are; it decides nothing.
    region: pulumi.Input[str]
    # The site's name: the resource's id and named in its messages; it decides nothing.
    site: str
    # [{"node", "volume_id", "tags"}], one per node: its home volume and the tags that find its
    # snapshots. A change (a node added, a home restored or moved) is recorded, snapshotting nothing.
    homes: pulumi.Input[list[dict]]
    # The tag keys (components/tags.py) for "version", "generation", "before" (and "node", read by
    # snapshots_held); they decide nothing.
    keys: dict[str, str]
    # The configured Bitbucket version: a change (an upgrade) snapshots every home first.
    version: pulumi.Input[str]
    # MirrorGeneration.generation: a change (a rebuild on emptied homes) snapshots every home first.
    generation: pulumi.Input[str]
    # Snapshots kept per node (mirrors[].backup.keep), at least 1; older ones are deleted after the
    # next snapshot, never on a change of this value alone.
    keep: int = 2
    # mirrors[].backup.enabled: false takes no snapshot (a change takes none either).
    enabled: bool = True
    # mirrors[].restoreFrom: set, the homes come from a snapshot, and a restore takes no backup of
    # what it replaces.
    restore_from: Optional[str] = None


def snapshots_tagged(region: str, tags: dict[str, str]) -> list[dict]:
    """This account's snapshots carrying every one of these tags, newest first."""
    pages = ec2(region).get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=tag_filters(tags))
    found = [s for page in pages for s in page["Snapshots"]]
    return sorted(found, key=lambda s: s["StartTime"], reverse=True)


def tags_of(snapshot: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}


def homes_held(olds: dict[str, Any], news: dict[str, Any]) -> list[dict]:
    """The volumes that hold what the change would lose: each node's home as it was before this `up`.
    A home replaced in this `up` (another KMS key) is a new, empty volume; the one it replaces is
    detached but still there (the engine deletes replaced resources last), so that is the one
    snapshotted. Otherwise, and whenever the recorded volume is gone (a state written before homes
    were kept up to date), it is the node's current home."""
    before = {home["node"]: home["volume_id"] for home in olds.get("homes") or []}
    replaced = [before[h["node"]] for h in news["homes"] if before.get(h["node"]) not in (None, h["volume_id"])]
    present = existing_volumes(news["region"], replaced) if replaced else set()
    return [
        {**home, "volume_id": before[home["node"]]} if before.get(home["node"]) in present else home
        for home in news["homes"]
    ]


def existing_volumes(region: str, volume_ids: list[str]) -> set[str]:
    """Which of these volumes still exist (a filter, not VolumeIds: a missing one is no error)."""
    found = ec2(region).describe_volumes(Filters=[{"Name": "volume-id", "Values": sorted(set(volume_ids))}])
    return {v["VolumeId"] for v in found.get("Volumes", []) if v.get("State") != "deleting"}


class HomeBackupProvider(StepProvider):
    """Each home snapshotted before a change that cannot be undone (module docstring).

    - check / read / diff: StepProvider's: a change of version, generation or homes is an update,
      nothing forces a replacement; read keeps the state (EC2 is asked when the step runs).
    - create: a new site's homes hold nothing to go back to: nothing is snapshotted.
    - update: when version or generation changed (enabled, not a restore), a snapshot of each home as
      it was before this `up` (a retry reuses one already tagged with the change), then the snapshots
      beyond `keep` per node deleted; otherwise the new inputs are recorded and EC2 is not called.
    - delete: the snapshots stay (what is left of a destroyed site's homes); nothing is called, safe
      to repeat.
    """

    # A new home (a node added, a home restored or moved) is recorded in place, snapshotting nothing:
    # the next upgrade then snapshots the volumes the homes really are.
    decided_by = ("version", "generation", "homes")

    def create(self, props: dict[str, Any]) -> CreateResult:
        # A new site's homes hold nothing to go back to.
        return CreateResult(f"backup-{props['site']}", {**props, "snapshots": {}})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        snapshots = dict(olds.get("snapshots") or {})
        if news.get("enabled") and not news.get("restore_from") and self.changed(olds, news, "version", "generation"):
            change = f"{olds.get('version')}/{olds.get('generation')} -> {news['version']}/{news['generation']}"
            snapshots = self.back_up(
                {**news, "homes": homes_held(olds, news)},
                holds=str(olds.get("version")),
                generation=str(olds.get("generation")),
                change=change,
            )
            self.prune(news)
        return UpdateResult({**news, "snapshots": snapshots})

    def back_up(self, props: dict[str, Any], holds: str, generation: str, change: str) -> dict[str, str]:
        client, keys = ec2(props["region"]), props["keys"]
        taken: dict[str, str] = {}
        for home in props["homes"]:
            node = home["node"]
            existing = snapshots_tagged(props["region"], {**home["tags"], keys["before"]: change})
            if existing:  # taken by a run that did not live to record it
                taken[node] = existing[0]["SnapshotId"]
                continue
            tags = {
                **home["tags"],
                keys["version"]: holds,
                keys["generation"]: generation,
                keys["before"]: change,
                NAME: f"{node}-home {holds}",
            }
            snapshot = client.create_snapshot(
                VolumeId=home["volume_id"],
                Description=f"bitbucket-mirrors: {node}'s home, Bitbucket {holds}, before {change}",
                TagSpecifications=[
                    {"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
                ],
            )
            taken[node] = snapshot["SnapshotId"]
        say(
            f"{props['site']}: homes snapshotted before {change}: "
            + ", ".join(f"{n} {s}" for n, s in sorted(taken.items()))
        )
        return taken

    def prune(self, props: dict[str, Any]) -> None:
        """The last `keep` snapshots per node stay; older ones go."""
        client = ec2(props["region"])
        keep = max(1, int(props.get("keep") or 2))
        for home in props["homes"]:
            for old in snapshots_tagged(props["region"], home["tags"])[keep:]:
                client.delete_snapshot(SnapshotId=old["SnapshotId"])
                say(f"{home['node']}: deleted the older snapshot {old['SnapshotId']} (keeping {keep})")

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # A destroyed site's snapshots stay: they are what is left of its homes (README, Clean up).
        if props.get("snapshots"):
            say(f"{props['site']}: its home snapshots are kept ({', '.join(sorted(props['snapshots'].values()))})")


class HomeBackup(Resource, module="bitbucket", name="HomeBackup"):
    """A site's home snapshots before an upgrade or a rebuild: `snapshots` is node -> snapshot id."""

    snapshots: pulumi.Output[dict]

    def __init__(self, name: str, args: HomeBackupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(HomeBackupProvider(), name, {**inputs_of(args), "snapshots": None}, opts)


def snapshots_held(region: str, site_tags: dict[str, str], keys: dict[str, str]) -> dict[str, dict[str, str]]:
    """version -> {node: newest snapshot id} of a site (a refusal lists them; a restore picks from them)."""
    held: dict[str, dict[str, str]] = {}
    for snapshot in snapshots_tagged(region, site_tags):
        tags = tags_of(snapshot)
        held.setdefault(tags.get(keys["version"], "?"), {}).setdefault(
            tags.get(keys["node"], "?"), snapshot["SnapshotId"]
        )
    return held


__all__ = ["HomeBackup", "HomeBackupArgs", "snapshots_tagged", "snapshots_held", "tags_of"]
