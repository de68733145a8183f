"""What pulumi-aws does in the twin's world for EC2 instances, EBS volumes and volume attachments
(terraform-provider-aws's aws_instance, aws_ebs_volume, aws_volume_attachment; twin/native.py)."""

from __future__ import annotations

import hashlib

from .native_base import NativeBase, Outputs
from .world_objects import WorldError


class NativeEc2(NativeBase):
    """Creates, updates and deletes instances, volumes and attachments in the world."""

    # --- EC2 ------------------------------------------------------------------------------------
    def _create_instance(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        tags = dict(inputs.get("tags") or {})
        region = inputs.get("region") or "us-east-1"
        az = self.zone_of(region, inputs.get("subnetId") or "")
        instance = self.world.launch(
            tags.get("Name", name),
            region,
            az,
            inputs["instanceType"],
            bool(inputs.get("associatePublicIpAddress")),
            tags,
            inputs.get("userData") or "",
            security_groups=tuple(inputs.get("vpcSecurityGroupIds") or ()),
            profile=inputs.get("iamInstanceProfile"),
        )
        instance.image = inputs.get("ami") or ""
        return instance.id, self._instance_outputs(instance, inputs)

    def _instance_outputs(self, instance, inputs: dict) -> Outputs:
        return {
            **inputs,
            "id": instance.id,
            "privateIp": instance.private_ip,
            "publicIp": instance.public_ip or "",
            "availabilityZone": instance.az,
            "instanceState": instance.state,
            "arn": f"arn:aws:ec2:{instance.region}:123456789012:instance/{instance.id}",
        }

    def _update_instance(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        instance = self.world.instances[id_]
        # One stop, modify, start per changed attribute (TPA resourceInstanceUpdate).
        for attribute in ("instanceType", "userData"):
            if old.get(attribute) != news.get(attribute):
                self.world.stop_instance(instance)
                self.world.wait("ec2.modify")
                if attribute == "instanceType":
                    instance.instance_type = news["instanceType"]
                else:
                    instance.user_data = news.get("userData") or ""
                self.world.start_instance(instance)
        instance.tags = dict(news.get("tags") or {})
        # ModifyInstanceAttribute Groups / ReplaceIamInstanceProfileAssociation: in place, no restart.
        instance.security_groups = tuple(news.get("vpcSecurityGroupIds") or instance.security_groups)
        instance.profile = news.get("iamInstanceProfile") or instance.profile
        self.world.wait("aws.call")
        return self._instance_outputs(instance, news)

    def _delete_instance(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        instance = self.world.instances.get(id_)
        if instance is not None and instance.state != "terminated":
            self.world.terminate(instance)

    # --- EBS ------------------------------------------------------------------------------------
    def _create_volume(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        volume = self.world.create_volume(
            inputs.get("region") or "us-east-1",
            inputs["availabilityZone"],
            int(inputs["size"]),
            dict(inputs.get("tags") or {}),
            snapshot_id=inputs.get("snapshotId"),
        )
        return volume.id, {
            **inputs,
            "id": volume.id,
            "arn": f"arn:aws:ec2:{volume.region}:123456789012:volume/{volume.id}",
        }

    def _update_volume(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        volume = self.world.volumes[id_]
        if int(news["size"]) < volume.size:
            raise WorldError("InvalidParameterValue", "New size cannot be smaller than existing size")
        if int(news["size"]) != volume.size:
            self.world.wait("ebs.modify")
            volume.size = int(news["size"])
        volume.tags = dict(news.get("tags") or {})
        return {**old_outputs, **news}

    def _delete_volume(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        volume = self.world.volumes.get(id_)
        waited = 0
        while volume is not None and volume.attached_to is not None:
            if waited >= 300:  # TPA retries DeleteVolume on VolumeInUse for the delete timeout
                raise WorldError("VolumeInUse", f"{id_} is attached to {volume.attached_to}")
            self.world.wait(5)
            waited += 5
        if volume is not None:
            self.world.wait("aws.call")
            del self.world.volumes[id_]

    def _create_attachment(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        instance = self.world.instances[inputs["instanceId"]]
        volume = self.world.volumes[inputs["volumeId"]]
        while instance.state not in ("running", "stopped"):  # waitVolumeAttachmentInstanceReady
            self.world.wait(5)
        self.world.attach(volume, instance, inputs["deviceName"])
        rid = f"vai-{hashlib.sha1((volume.id + instance.id).encode()).hexdigest()[:12]}"
        return rid, {**inputs, "id": rid}

    def _delete_attachment(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        volume = self.world.volumes.get(inputs["volumeId"])
        instance = self.world.instances.get(inputs["instanceId"])
        if volume is None or volume.attached_to != inputs["instanceId"]:
            return
        if inputs.get("stopInstanceBeforeDetaching") and instance is not None:
            self.world.stop_instance(instance)
        self.world.detach(volume)
