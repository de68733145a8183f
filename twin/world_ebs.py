"""EBS in the twin's world: volumes (created empty or from a snapshot), attaching and detaching them,
snapshots of a home, and the data sources the program reads (subnets' zones, snapshots)."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from .durations import seconds
from .world_objects import Instance, Volume, WorldError, _copy_home
from .world_state import WorldState


class WorldEbs(WorldState):
    """The world's EBS: what a volume holds and where it is attached, and its snapshots."""

    def snapshot(self, volume: Volume, description: str, tags: dict[str, str]) -> dict[str, Any]:
        """CreateSnapshot: point in time at the call (the volume stays in use); `completed` later."""
        snapshot = {
            "SnapshotId": self.new_id("snap"),
            "VolumeId": volume.id,
            "VolumeSize": volume.size,
            "Description": description,
            "Tags": dict(tags),
            "StartTime": self.now,
            "done": self.now + seconds("ebs.snapshot"),
            "home": _copy_home(volume.home),
            "volume_tags": dict(volume.tags),
        }
        self.snapshots[snapshot["SnapshotId"]] = snapshot
        self.note(f"snapshot {snapshot['SnapshotId']} of {volume.id}")
        return snapshot

    def snapshot_status(self, snapshot: dict[str, Any]) -> str:
        return "completed" if self.now >= snapshot["done"] else "pending"

    # --- data sources (what the program reads at preview and up) --------------------------------
    @staticmethod
    def zone_of(region: str, subnet: str) -> str:
        """The zone of a subnet of the program's lookups (each subnet one zone, fixed)."""
        return region + "abc"[int(hashlib.sha1(subnet.encode()).hexdigest(), 16) % 3]

    def data_source(self, token: str, args: dict[str, Any]) -> Optional[dict[str, Any]]:
        """terraform-provider-aws's data sources over what exists; None: not one the world answers."""
        if token == "aws:ec2/getSubnet:getSubnet":
            region = args.get("region") or "us-east-1"
            return {"id": args.get("id"), "availabilityZone": self.zone_of(region, args.get("id") or "")}
        if token == "aws:ebs/getSnapshotIds:getSnapshotIds":
            # data_source_ebs_snapshot_ids.go: DescribeSnapshots with the filters and owners, the
            # ids sorted by StartTime, newest first; none found is an empty list, not an error.
            found = [s for s in self.snapshots.values() if self._snapshot_matches(s, args.get("filters") or [])]
            return {
                "id": args.get("region") or "",
                "ids": [s["SnapshotId"] for s in sorted(found, key=lambda s: s["StartTime"], reverse=True)],
            }
        if token == "aws:ebs/getSnapshot:getSnapshot":
            # data_source_ebs_snapshot.go: exactly one result or an error.
            found = [s for s in self.snapshots.values() if s["SnapshotId"] in (args.get("snapshotIds") or [])]
            if len(found) != 1:
                raise WorldError(
                    "NotFound", "Your query returned no results. Please change your search criteria and try again."
                )
            (snapshot,) = found
            return {
                "id": snapshot["SnapshotId"],
                "snapshotId": snapshot["SnapshotId"],
                "volumeId": snapshot["VolumeId"],
                "volumeSize": snapshot["VolumeSize"],
                "state": self.snapshot_status(snapshot),
                "tags": dict(snapshot["Tags"]),
            }
        return None

    def _snapshot_matches(self, snapshot: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
        for f in filters:
            name, values = f["name"], f["values"]
            if name.startswith("tag:"):
                have = snapshot["Tags"].get(name[4:])
            elif name == "status":
                have = self.snapshot_status(snapshot)
            elif name == "volume-id":
                have = snapshot["VolumeId"]
            else:
                raise WorldError("InvalidParameterValue", f"The filter '{name}' is invalid")
            if have not in values:
                return False
        return True

    # --- EBS ----------------------------------------------------------------------------------
    def create_volume(
        self, region: str, az: str, size: int, tags: dict[str, str], snapshot_id: Optional[str] = None
    ) -> Volume:
        volume = Volume(id=self.new_id("vol"), region=region, az=az, size=size, tags=dict(tags))
        if snapshot_id:  # a volume from a snapshot holds what the snapshotted home held
            source = self.snapshots.get(snapshot_id)
            if source is None:
                raise WorldError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
            volume.home = _copy_home(source["home"], volume.id)
        self.volumes[volume.id] = volume
        self.wait("ebs.create")
        volume.state = "available"
        return volume

    def attach(self, volume: Volume, instance: Instance, device: str) -> None:
        if volume.az != instance.az:
            raise WorldError(
                "InvalidVolume.ZoneMismatch", f"{volume.id} is in {volume.az}, {instance.id} in {instance.az}"
            )
        if volume.attached_to not in (None, instance.id):
            raise WorldError("VolumeInUse", f"{volume.id} is attached to {volume.attached_to}")
        if instance.state not in ("running", "stopped"):
            raise WorldError("IncorrectState", f"{instance.id} is {instance.state}")
        self.wait("ebs.attach")
        volume.attached_to, volume.device, volume.state = instance.id, device, "in-use"
        self.note(f"attached {volume.id} to {instance.name}")

    def detach(self, volume: Volume) -> None:
        if volume.attached_to is None:
            return
        instance = self.instances[volume.attached_to]
        if instance.state == "running" and instance.root.mounted == volume.id:
            # A mounted file system: the detach stays `busy` (botocore ec2 DetachVolume); terraform
            # gives up after its 5 minute delete timeout (ebs_volume_attachment.go Timeouts).
            self.wait(300)
            raise WorldError("VolumeInUse", f"{volume.id} is mounted on {instance.name}: the detach stays busy")
        self.wait("ebs.detach")
        volume.attached_to, volume.device, volume.state = None, None, "available"
        if instance.root.mounted == volume.id:
            instance.root.mounted = None
        self.note(f"detached {volume.id} from {instance.name}")
