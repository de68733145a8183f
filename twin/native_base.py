"""What every native handler of the twin shares (twin/native.py assembles them): the world and the
node it acts on, and ids and computed outputs shaped as the harness's mocks shape them, with the
auto-names AWS resources get."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any, Callable

import pulumi

from twin.program import ProgramMocks

from .node import Node
from .world import World

Outputs = dict[str, Any]


class NativeBase:
    """The world, the node and the serial every handler's ids come from; `_synthesised` outputs."""

    def __init__(self, world: World, node: Node, subnet_zones: Callable[[str, str], str]) -> None:
        self.world = world
        self.node = node
        self.zone_of = subnet_zones
        self._mocks = ProgramMocks()
        self._serial = itertools.count(1)

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
    "aws:ec2/securityGroup:SecurityGroup": "security_group",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "ingress_rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "egress_rule",
    "aws:iam/rolePolicy:RolePolicy": "role_policy",
    "aws:iam/instanceProfile:InstanceProfile": "instance_profile",
}


def _kind(typ: str) -> str:
    return _KINDS.get(typ, "other")
