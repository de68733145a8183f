"""What pulumi-aws, pulumi-tls and pulumi-random do in the twin's world for DNS records, SSM parameters,
private keys, passwords, certificates and IAM roles (twin/native.py)."""

from __future__ import annotations

import hashlib

from twin.program import mock_key_pair

from .native_base import NativeBase, Outputs
from .network import parameter_arn
from .world_objects import ACCOUNT, ALIAS_TTL_S


class NativeRecords(NativeBase):
    """Creates, updates and deletes records, parameters, keys, passwords, certificates and roles."""

    # --- DNS, parameters, keys ------------------------------------------------------------------
    def _create_record(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self._point(inputs)
        rid = f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}"
        return rid, {**inputs, "id": rid, "fqdn": inputs["name"]}

    def _point(self, inputs: dict) -> None:
        self.world.wait("route53.change")
        host = str(inputs["name"]).rstrip(".")
        if inputs.get("aliases"):
            self.world.set_record(host, ("lb", inputs["aliases"][0]["name"]), ALIAS_TTL_S)
        elif inputs.get("type") == "A" and inputs.get("records"):
            self.world.set_record(host, ("ip", inputs["records"][0]), float(inputs.get("ttl") or 300))

    def _update_record(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        self._point(news)
        return {**old_outputs, **news}

    def _delete_record(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("route53.change")
        host = str(inputs["name"]).rstrip(".")
        previous = self.world.dns_history.get(host, [(0.0, None, ALIAS_TTL_S)])[-1]
        self.world.set_record(host, None, previous[2])

    def _create_parameter(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        self.world.wait("aws.call")
        self.world.parameters[inputs["name"]] = inputs.get("value", "")
        self.world.parameter_keys[inputs["name"]] = inputs.get("keyId")
        rid, outputs = self._synthesised("aws:ssm/parameter:Parameter", name, inputs)
        # The ARN the node role's policy names and the node's GetParameter is authorized against.
        outputs["arn"] = parameter_arn(inputs.get("region") or "us-east-1", ACCOUNT, inputs["name"])
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
        _, outputs = self._synthesised("aws:iam/role:Role", name, inputs)
        # TPA iam_role.go: the role's id is its name (RolePolicy takes role.id, a profile role.name).
        return outputs["name"], {**outputs, "id": outputs["name"]}
