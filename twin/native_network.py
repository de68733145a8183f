"""What pulumi-aws does in the twin's world for security groups and their rules, role policies and
instance profiles (twin/network.py decides what they allow; twin/native.py)."""

from __future__ import annotations

import hashlib

from .native_base import NativeBase, Outputs
from .network import Rule, parse_ports


class NativeNetwork(NativeBase):
    """Creates, updates and deletes security groups, rules, role policies and instance profiles."""

    # --- security groups and IAM (twin/network.py) ----------------------------------------------
    def _create_security_group(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:ec2/securityGroup:SecurityGroup", name, inputs)
        rid = f"sg-{hashlib.sha1(rid.encode()).hexdigest()[:17]}"
        self.world.wait("aws.call")
        self.world.network.add_group(rid, name)
        for direction in ("ingress", "egress"):  # inline rules, if a program uses them
            for i, rule in enumerate(inputs.get(direction) or []):
                for j, cidr in enumerate(rule.get("cidrBlocks") or [None]):
                    self.world.network.add_rule(
                        Rule(
                            f"{rid}-{direction}-{i}-{j}",
                            rid,
                            direction,
                            str(rule.get("protocol", "tcp")),
                            parse_ports(rule),
                            cidr=cidr,
                            since=self.world.now,
                        )
                    )
        return rid, {**outputs, "id": rid}

    def _delete_security_group(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("aws.call")
        self.world.network.remove_group(id_, self.world.now)

    def _create_rule(self, typ: str, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid = f"sgr-{hashlib.sha1(f'{name}-{next(self._serial)}'.encode()).hexdigest()[:17]}"
        self.world.wait("aws.call")  # AuthorizeSecurityGroupIngress/Egress: the rule allows from here
        self.world.network.add_rule(_rule(typ, rid, inputs, self.world.now))
        return rid, {**inputs, "id": rid, "securityGroupRuleId": rid}

    def _create_ingress_rule(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        return self._create_rule("ingress", name, inputs)

    def _create_egress_rule(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        return self._create_rule("egress", name, inputs)

    def _update_ingress_rule(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self.world.network.add_rule(_rule("ingress", id_, news, self.world.now))  # ModifySecurityGroupRules
        self.world.wait("aws.call")
        return {**old_outputs, **news}

    def _update_egress_rule(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self.world.network.add_rule(_rule("egress", id_, news, self.world.now))
        self.world.wait("aws.call")
        return {**old_outputs, **news}

    def _delete_ingress_rule(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        # Revoke...: the rule stops allowing new connections when the call returns, at the end of
        # this step, whatever else the engine runs meanwhile.
        self.world.wait("aws.call")
        self.world.network.remove_rule(id_, self.world.now)

    def _delete_egress_rule(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        # Revoke...: the rule stops allowing new connections when the call returns, at the end of
        # this step, whatever else the engine runs meanwhile.
        self.world.wait("aws.call")
        self.world.network.remove_rule(id_, self.world.now)

    def _create_role_policy(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:iam/rolePolicy:RolePolicy", name, inputs)
        self.world.wait("aws.call")
        self.world.network.attach_policy(inputs["role"], outputs["name"], inputs["policy"])
        rid = f"{inputs['role']}:{outputs['name']}"  # TPA iam_role_policy.go: role:name
        return rid, {**outputs, "id": rid}

    def _update_role_policy(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self.world.network.attach_policy(news["role"], old_outputs["name"], news["policy"])
        self.world.wait("aws.call")
        return {**old_outputs, **news}

    def _delete_role_policy(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.network.detach_policy(inputs["role"], outputs.get("name", ""))
        self.world.wait("aws.call")

    def _create_instance_profile(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:iam/instanceProfile:InstanceProfile", name, inputs)
        self.world.wait("aws.call")
        self.world.network.profiles[outputs["name"]] = inputs.get("role", "")
        return outputs["name"], {**outputs, "id": outputs["name"]}

    def _delete_instance_profile(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.network.profiles.pop(outputs.get("name", id_), None)
        self.world.wait("aws.call")


def _rule(direction: str, rid: str, inputs: dict, now: float) -> Rule:
    """An aws.vpc.SecurityGroupIngressRule/EgressRule: one protocol and port range, one source."""
    return Rule(
        rid,
        inputs["securityGroupId"],
        direction,
        str(inputs.get("ipProtocol", "tcp")),
        parse_ports(inputs),
        cidr=inputs.get("cidrIpv4") or inputs.get("cidrIpv6"),
        group=inputs.get("referencedSecurityGroupId"),
        since=now,
    )
