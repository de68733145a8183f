"""A customer-managed KMS key reaches every volume and the host key parameter, the node may decrypt
its own parameter through SSM only, and a key change counts as a new, empty home for the approval."""

from __future__ import annotations

import json

import parliament
import pytest

from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import APPROVAL, INSTANCE, PARAMETER, ROLE_POLICY, VOLUME

KEY = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def farm(kms_key_arn=None) -> ProgramRun:
    config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
    if kms_key_arn:
        config["bitbucket-mirrors:kmsKeyArn"] = kms_key_arn
    return run_program(config=config, secret_keys=secret_keys)


@pytest.fixture(scope="module")
def keyed() -> ProgramRun:
    return farm(KEY)


@pytest.fixture(scope="module")
def plain() -> ProgramRun:
    return farm()


def test_every_root_and_home_volume_and_host_key_parameter_uses_the_key(keyed):
    instances = keyed.of_type(INSTANCE)
    assert len(instances) == 3 and all(i.inputs["rootBlockDevice"]["kmsKeyId"] == KEY for i in instances)
    volumes = keyed.of_type(VOLUME)
    assert len(volumes) == 3 and all(v.inputs["kmsKeyId"] == KEY and v.inputs["encrypted"] for v in volumes)
    parameters = keyed.of_type(PARAMETER)
    assert len(parameters) == 3 and all(p.inputs["keyId"] == KEY for p in parameters)


def test_without_a_key_nothing_names_one(plain):
    assert all("kmsKeyId" not in i.inputs["rootBlockDevice"] for i in plain.of_type(INSTANCE))
    assert all("kmsKeyId" not in v.inputs for v in plain.of_type(VOLUME))
    assert all("keyId" not in p.inputs for p in plain.of_type(PARAMETER))
    policies = [json.loads(p.inputs["policy"]) for p in plain.of_type(ROLE_POLICY) if p.name.endswith("-read-host-key")]
    assert policies and all(len(p["Statement"]) == 1 for p in policies)


def test_a_node_decrypts_only_its_own_parameter_and_only_through_ssm(keyed):
    parameters = {p.name: p.outputs["arn"] for p in keyed.of_type(PARAMETER)}
    for i in range(3):
        (policy,) = [p for p in keyed.of_type(ROLE_POLICY) if p.name == f"iad-node{i}-read-host-key"]
        text = policy.inputs["policy"]
        assert parliament.analyze_policy_string(text).findings == []
        get, decrypt = json.loads(text)["Statement"]
        own = parameters[f"iad-node{i}-host-key"]
        assert get == {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": own}
        assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == KEY
        assert decrypt["Condition"]["StringEquals"] == {
            "kms:ViaService": "ssm.us-east-1.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": own,
        }


def test_another_key_is_a_new_empty_home_so_the_approval_is_replaced_by_its_diff(keyed, plain):
    # The approval compares its home_zone: the key is part of it (a new key gives new volumes).
    from providers.mirror_approval import MirrorApprovalProvider

    old, new = plain.one(APPROVAL).inputs, keyed.one(APPROVAL).inputs
    assert new["home_zone"] != old["home_zone"] and KEY in new["home_zone"]
    assert "home_zone" in MirrorApprovalProvider().diff("id", old, new).replaces
