"""The twin checked against what it can be checked against: the SDKs' own schemas, moto, botocore's
models, and the program it plays (every input the program sets has a rule)."""

from __future__ import annotations

import inspect
import re

import pulumi_aws
import pulumi_command
import pytest

from tests.harness import STACKS, run_program
from twin import rules

PROGRAM_STACKS = ["single-acm", "single-nginx", "farm-3", "monitored", "three-regions", "two-sites"]


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _args_class(type_: str):
    """pulumi-aws's Args class for a type token: aws:ec2/instance:Instance -> pulumi_aws.ec2.InstanceArgs."""
    package, rest = type_.split(":", 1)
    module_path, cls = rest.split(":")
    module = module_path.split("/")[0]
    root = {"aws": pulumi_aws, "tls": __import__("pulumi_tls"), "random": __import__("pulumi_random")}[package]
    owner = getattr(root, module) if module != "index" else root
    return getattr(owner, f"{cls}Args")


@pytest.mark.parametrize("type_", sorted(rules.RULES))
def test_every_rule_names_an_input_the_providers_sdk_has(type_):
    """A typo in the table would make a change look like 'no rule'; a property that no longer exists
    would make the twin decide on something the provider never sees."""
    parameters = set(inspect.signature(_args_class(type_).__init__).parameters)
    table = rules.RULES[type_]
    for name in table.replace | table.in_place:
        top = name.split(".")[0]
        assert _camel_to_snake(top) in parameters, f"{type_}: {top} is not an input of {_args_class(type_).__name__}"


def test_every_rule_cites_terraform_provider_aws_or_the_providers_source():
    for type_, table in rules.RULES.items():
        assert table.source and ("/internal/" in table.source or "internal/" in table.source), type_
        for _, _, source in table.conditional:
            assert "terraform-provider-aws" in source or "TPA" in source or ".go" in source, (type_, source)


def test_the_command_rules_are_pulumi_commands_own():
    """pulumi-command's SDK registers every Command with replaceOnChanges on triggers and nothing
    else (its generated _internal_init); the twin's table must say the same."""
    source = inspect.getsource(pulumi_command.remote.Command._internal_init)
    assert re.findall(r"replace_on_changes=(\[[^\n]*\])\)", source) == ['["triggers[*]"]']
    assert rules.COMMAND_REPLACE == {"triggers"}
    inputs = set(inspect.signature(pulumi_command.remote.CommandArgs.__init__).parameters) - {"__self__"}
    named = {_camel_to_snake(k) for k in rules.COMMAND_REPLACE | rules.COMMAND_IN_PLACE}
    assert inputs <= named, f"Command inputs without a rule: {inputs - named}"


@pytest.fixture(scope="module")
def program_inputs() -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for stack in PROGRAM_STACKS:
        for r in run_program(STACKS / f"{stack}.yaml").resources:
            if r.custom and not r.typ.startswith("pulumi-python:dynamic/"):
                found.setdefault(r.typ, []).append(r.inputs)
    return found


def test_the_table_covers_every_type_and_input_the_program_registers(program_inputs):
    """The twin refuses to guess: each input the program sets, on every stack in the tests, has a rule."""
    missing = []
    for type_, registrations in program_inputs.items():
        if type_ == rules.COMMAND:
            known = rules.COMMAND_REPLACE | rules.COMMAND_IN_PLACE
        else:
            assert type_ in rules.RULES, f"no rule table for {type_}"
            known = rules.RULES[type_].replace | rules.RULES[type_].in_place
        for inputs in registrations:
            for path in rules.changed_properties(type_, {}, inputs):
                if rules.rule_key(type_, path) not in known:
                    missing.append((type_, path))
    assert not missing, sorted(set(missing))


@pytest.mark.parametrize(
    "old, new, operation",
    [
        ({"instanceType": "m6i.xlarge"}, {"instanceType": "m6i.2xlarge"}, "update"),  # stop, modify, start
        ({"instanceType": "m6i.xlarge"}, {"instanceType": "m7g.xlarge"}, "replace"),  # another architecture
        (
            {"userData": "a", "userDataReplaceOnChange": False},
            {"userData": "b", "userDataReplaceOnChange": False},
            "update",
        ),
        (
            {"userData": "a", "userDataReplaceOnChange": True},
            {"userData": "b", "userDataReplaceOnChange": True},
            "replace",
        ),
        ({"subnetId": "subnet-1"}, {"subnetId": "subnet-2"}, "replace"),
        ({"associatePublicIpAddress": True}, {"associatePublicIpAddress": False}, "replace"),
        (
            {"rootBlockDevice": {"volumeSize": 30, "encrypted": True}},
            {"rootBlockDevice": {"volumeSize": 40, "encrypted": True}},
            "update",
        ),
        (
            {"rootBlockDevice": {"volumeSize": 30, "encrypted": True}},
            {"rootBlockDevice": {"volumeSize": 30, "encrypted": False}},
            "replace",
        ),
        ({"tags": {"Name": "a"}}, {"tags": {"Name": "b"}}, "update"),
    ],
)
def test_instance_changes_are_decided_as_terraform_provider_aws_does(old, new, operation):
    assert rules.decide("aws:ec2/instance:Instance", old, new).operation == operation


def test_ignore_changes_keeps_the_old_value_and_replace_on_changes_turns_an_update_into_a_replace():
    instance = "aws:ec2/instance:Instance"
    assert rules.decide(instance, {"ami": "ami-1"}, {"ami": "ami-2"}, ignore_changes=["ami"]).operation == "same"
    volume = "aws:ebs/volume:Volume"
    tagged = rules.decide(volume, {"tags": {"gen": "1"}}, {"tags": {"gen": "2"}}, replace_on_changes=['tags["gen"]'])
    assert tagged.operation == "replace" and tagged.replace_keys == ['tags["gen"]']
    other = rules.decide(
        volume, {"tags": {"gen": "1", "x": "a"}}, {"tags": {"gen": "1", "x": "b"}}, replace_on_changes=['tags["gen"]']
    )
    assert other.operation == "update"


def test_an_input_without_a_rule_is_an_error_not_a_guess():
    with pytest.raises(KeyError, match="no rule"):
        rules.decide("aws:ec2/instance:Instance", {"hibernation": False}, {"hibernation": True})
    with pytest.raises(KeyError, match="no rule table"):
        rules.decide("aws:rds/instance:Instance", {}, {"engine": "postgres"})


def test_nlb_subnets_replace_unless_only_added():
    lb = "aws:lb/loadBalancer:LoadBalancer"
    assert rules.decide(lb, {"subnets": ["a", "b"]}, {"subnets": ["a", "b", "c"]}).operation == "update"
    assert rules.decide(lb, {"subnets": ["a", "b"]}, {"subnets": ["a", "c"]}).operation == "replace"
    assert rules.decide(lb, {"securityGroups": []}, {"securityGroups": ["sg-1"]}).operation == "replace"
    assert rules.decide(lb, {"securityGroups": ["sg-1"]}, {"securityGroups": ["sg-2"]}).operation == "update"


def test_an_optional_computed_input_left_out_keeps_the_state_value_and_set_to_another_replaces():
    """A home created from a snapshot (a restore) stays when restoreFrom is removed: snapshot_id is
    Optional and Computed, so leaving it out plans the prior value (no diff); a new one replaces."""
    volume = "aws:ebs/volume:Volume"
    restored = {"size": 100, "snapshotId": "snap-1"}
    assert rules.decide(volume, restored, {"size": 100}).operation == "same"
    assert rules.decide(volume, restored, {"size": 100, "snapshotId": "snap-2"}).operation == "replace"
    assert rules.decide(volume, {"size": 100}, {"size": 100, "snapshotId": "snap-1"}).operation == "replace"
    assert rules.decide("aws:ec2/instance:Instance", {"keyName": "a"}, {}).operation == "replace"
