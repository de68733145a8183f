"""What pulumi-aws, pulumi-tls, pulumi-random and pulumi-command do in the world for a create, an
update and a delete of each resource type the program uses, and the outputs they return.

The behaviour of the AWS resources is terraform-provider-aws's (TPA, as pulumi-aws wraps it):
- aws_instance Create waits for `running`; Update applies instance_type and user_data each by
  stop, modify, start (modifyInstanceAttributeWithStopStart: an instance that was stopped ends up
  started), everything else without a restart; Delete terminates.
- aws_volume_attachment Create waits for the instance to be running or stopped and attaches (never
  starts it); Delete with stop_instance_before_detaching stops the instance, then detaches, and
  never starts it again.
- aws_ebs_volume size and type change by ModifyVolume; Delete retries while the volume is in use.
- aws_lb_target_group_attachment Create registers (retried on InvalidTarget for 10 minutes), Delete
  deregisters without waiting for the draining.
- aws_lb Create waits for `active`.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any, Callable, Optional

import pulumi

from twin.program import ProgramMocks, mock_key_pair

from .node import Node
from .world import HealthCheck, LoadBalancer, TargetGroup, World, WorldError

Outputs = dict[str, Any]


class Native:
    def __init__(self, world: World, node: Node, subnet_zones: Callable[[str, str], str]) -> None:
        self.world = world
        self.node = node
        self.zone_of = subnet_zones
        self._mocks = ProgramMocks()
        self._serial = itertools.count(1)

    # --- entry points --------------------------------------------------------------------------
    def create(self, typ: str, name: str, inputs: dict) -> tuple[str, Outputs]:
        handler = getattr(self, "_create_" + _kind(typ), None)
        if handler is not None:
            return handler(name, inputs)
        self.world.wait(_call_time(typ))
        return self._synthesised(typ, name, inputs)

    def update(self, typ: str, name: str, id_: str, old_inputs: dict, old_outputs: Outputs, news: dict) -> Outputs:
        handler = getattr(self, "_update_" + _kind(typ), None)
        if handler is not None:
            return handler(name, id_, old_inputs, old_outputs, news)
        self.world.wait(_call_time(typ))
        return {**old_outputs, **news}

    def delete(self, typ: str, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        handler = getattr(self, "_delete_" + _kind(typ), None)
        if handler is not None:
            handler(name, id_, inputs, outputs)
        else:
            self.world.wait(_call_time(typ))

    def _synthesised(self, typ: str, name: str, inputs: dict) -> tuple[str, Outputs]:
        """Ids and computed outputs as the harness's mocks shape them, unique per creation, with the
        auto-names AWS resources get (the program reads them: KeyPair.key_name, InstanceProfile.name)."""
        serial = next(self._serial)
        rid, outputs = self._mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=typ, name=f"{name}-{serial}", inputs=dict(inputs), provider="", resource_id="", custom=True
            )
        )
        suffix = hashlib.sha1(f"{name}-{serial}".encode()).hexdigest()[:7]
        key = AUTO_NAMED.get(typ)
        if key is not None:
            outputs.setdefault(key, f"{name}-{suffix}")
        outputs.setdefault("arn", f"arn:aws:twin:{inputs.get('region', '')}:123456789012:{_kind(typ)}/{rid}")
        return rid, outputs

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

    # --- load balancing -------------------------------------------------------------------------
    def _create_load_balancer(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/loadBalancer:LoadBalancer", name, inputs)
        lb = LoadBalancer(
            arn=outputs["arn"],
            dns_name=outputs["dnsName"],
            region=inputs.get("region") or "",
            active_at=self.world.now + 180,
        )
        self.world.load_balancers[lb.arn] = lb
        self.world.wait("elb.create")
        return rid, outputs

    def _delete_load_balancer(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("elb.small")
        self.world.load_balancers.pop(outputs.get("arn", ""), None)

    def _create_target_group(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/targetGroup:TargetGroup", name, inputs)
        self.world.target_groups[outputs["arn"]] = TargetGroup(
            arn=outputs["arn"],
            name=name,
            port=int(inputs["port"]),
            check=_health_check(inputs),
            deregistration_delay=float(inputs.get("deregistrationDelay", 300)),
        )
        self.world.wait("elb.small")
        return rid, outputs

    def _update_target_group(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        group = self.world.target_groups[old_outputs["arn"]]
        group.check = _health_check(news)
        group.deregistration_delay = float(news.get("deregistrationDelay", 300))
        self.world.wait("elb.small")
        return {**old_outputs, **news}

    def _delete_target_group(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("elb.small")
        self.world.target_groups.pop(outputs.get("arn", ""), None)

    def _create_listener(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/listener:Listener", name, inputs)
        self._listen(inputs)
        self.world.wait("elb.small")
        return rid, outputs

    def _listen(self, inputs: dict) -> None:
        lb = self.world.load_balancers[inputs["loadBalancerArn"]]
        lb.listeners[int(inputs["port"])] = inputs["defaultActions"][0]["targetGroupArn"]

    def _update_listener(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        lb = self.world.load_balancers[old["loadBalancerArn"]]
        lb.listeners.pop(int(old["port"]), None)
        self._listen(news)
        self.world.wait("elb.small")
        return {**old_outputs, **news}

    def _delete_listener(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        lb = self.world.load_balancers.get(inputs["loadBalancerArn"])
        if lb is not None:
            lb.listeners.pop(int(inputs["port"]), None)
        self.world.wait("elb.small")

    def _create_target_group_attachment(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        group = self.world.target_groups[inputs["targetGroupArn"]]
        waited = 0
        while True:
            try:
                self.world.register(group, inputs["targetId"])
                break
            except WorldError:  # TPA retries RegisterTargets on InvalidTarget for 10 minutes
                if waited >= 600:
                    raise
                self.world.wait(10)
                waited += 10
        self.world.wait("elb.small")
        rid = f"{inputs['targetGroupArn']}-{inputs['targetId']}"
        return rid, {**inputs, "id": rid}

    def _delete_target_group_attachment(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        group = self.world.target_groups.get(inputs["targetGroupArn"])
        if group is not None:
            self.world.deregister(group, inputs["targetId"])
        self.world.wait("elb.small")

    # --- DNS, parameters, keys ------------------------------------------------------------------
    def _create_record(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self._point(inputs)
        rid = f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}"
        return rid, {**inputs, "id": rid, "fqdn": inputs["name"]}

    def _point(self, inputs: dict) -> None:
        self.world.wait("route53.change")
        host = str(inputs["name"]).rstrip(".")
        if inputs.get("aliases"):
            self.world.dns[host] = ("lb", inputs["aliases"][0]["name"])
        elif inputs.get("type") == "A" and inputs.get("records"):
            self.world.dns[host] = ("ip", inputs["records"][0])

    def _update_record(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self._point(news)
        return {**old_outputs, **news}

    def _delete_record(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("route53.change")
        self.world.dns.pop(str(inputs["name"]).rstrip("."), None)

    def _create_parameter(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self.world.wait("aws.call")
        self.world.parameters[inputs["name"]] = inputs.get("value", "")
        rid, outputs = self._synthesised("aws:ssm/parameter:Parameter", name, inputs)
        return inputs["name"], outputs

    def _update_parameter(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self.world.wait("aws.call")
        self.world.parameters[news["name"]] = news.get("value", "")
        return {**old_outputs, **news}

    def _delete_parameter(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("aws.call")
        self.world.parameters.pop(inputs["name"], None)

    def _create_private_key(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        # A new key on every creation (a replaced key is a new key), in pulumi-tls's shapes.
        keys = mock_key_pair(f"{name}-{next(self._serial)}", inputs.get("algorithm", "ED25519"))
        self.node.public_keys[keys["privateKeyOpenssh"]] = keys["publicKeyOpenssh"]
        return f"key-{hashlib.sha1(keys['privateKeyPem'].encode()).hexdigest()[:16]}", {**inputs, **keys}

    def _create_random_password(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        value = hashlib.sha1(f"{name}-{next(self._serial)}".encode()).hexdigest()[: int(inputs.get("length", 32))]
        return "none", {**inputs, "result": value.ljust(int(inputs.get("length", 32)), "x")}

    def _create_certificate_validation(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self.world.wait("acm.validate")
        return inputs["certificateArn"], {**inputs, "id": inputs["certificateArn"]}

    def _create_certificate(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self.world.wait("acm.request")
        return self._synthesised("aws:acm/certificate:Certificate", name, inputs)

    def _create_role(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self.world.wait("iam.role")
        return self._synthesised("aws:iam/role:Role", name, inputs)

    # --- pulumi-command -------------------------------------------------------------------------
    def _create_command(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        stdout = self.node.run(inputs.get("connection") or {}, inputs.get("create"), inputs.get("stdin"))
        return f"{name}-{next(self._serial)}", {**inputs, "stdout": stdout, "stderr": ""}

    def _update_command(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        # remote/commandController.go Update: the `update` command when set, else `create`, on the new connection.
        command = news.get("update") or news.get("create")
        stdout = self.node.run(news.get("connection") or {}, command, news.get("stdin"))
        return {**news, "stdout": stdout, "stderr": ""}

    def _delete_command(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        # Delete runs the stored `delete` with the stored (old) connection.
        self.node.run(inputs.get("connection") or {}, inputs.get("delete"), None)


# Pulumi's auto-naming (pulumi-aws provider/resources.go setAutonaming): the logical name and a suffix.
AUTO_NAMED = {
    "aws:ec2/keyPair:KeyPair": "keyName",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:sns/topic:Topic": "name",
    "aws:lb/targetGroup:TargetGroup": "name",
    "aws:lb/loadBalancer:LoadBalancer": "name",
}

_KINDS = {
    "aws:ec2/instance:Instance": "instance",
    "aws:ebs/volume:Volume": "volume",
    "aws:ec2/volumeAttachment:VolumeAttachment": "attachment",
    "aws:lb/loadBalancer:LoadBalancer": "load_balancer",
    "aws:lb/targetGroup:TargetGroup": "target_group",
    "aws:lb/listener:Listener": "listener",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "target_group_attachment",
    "aws:route53/record:Record": "record",
    "aws:ssm/parameter:Parameter": "parameter",
    "tls:index/privateKey:PrivateKey": "private_key",
    "random:index/randomPassword:RandomPassword": "random_password",
    "aws:acm/certificate:Certificate": "certificate",
    "aws:acm/certificateValidation:CertificateValidation": "certificate_validation",
    "aws:iam/role:Role": "role",
    "command:remote:Command": "command",
}


def _kind(typ: str) -> str:
    return _KINDS.get(typ, "other")


def _call_time(typ: str) -> str:
    return "aws.call" if typ.startswith("aws:") else 0.0  # type: ignore[return-value]


def _health_check(inputs: dict) -> HealthCheck:
    check = inputs.get("healthCheck") or {}
    # TPA's defaults where the program sets none: interval 30, thresholds 3 and 3 (target_group.go).
    return HealthCheck(
        interval=float(check.get("interval", 30)),
        healthy_threshold=int(check.get("healthyThreshold", 3)),
        unhealthy_threshold=int(check.get("unhealthyThreshold", 3)),
    )


def _unused(_: Optional[Any] = None) -> None:
    return None
