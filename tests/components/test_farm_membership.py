"""Farm membership by AWS discovery: scaling a farm out or in leaves every other node exactly as it
is (no re-install, no restart), and discovery sees only its own farm's nodes."""

from __future__ import annotations

import json

import parliament
import pytest

from components.host import discovery_policy
from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import GROUP, INSTANCE, ROLE_POLICY

FARM = STACKS / "farm-3.yaml"


def farm_of(nodes: int) -> ProgramRun:
    config, secret_keys = stack_file_config(FARM)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0]["nodes"] = nodes
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


# What a rollout step is told about its site, to say what a change costs: never a reason to run
# (their providers' diffs leave them out; the twin's scaling scenarios run no step on these nodes).
SITE_FACTS = ("nodes",)


def node_resources(run: ProgramRun, node: str) -> dict[str, dict]:
    return {
        r.urn: {k: v for k, v in r.inputs.items() if k not in SITE_FACTS or not r.typ.startswith("pulumi-python:")}
        for r in run.resources
        if r.name.startswith(f"{node}-") or r.name == node
    }


@pytest.mark.parametrize("before, after", [(3, 4), (4, 3), (2, 5)])
def test_scaling_leaves_the_remaining_nodes_untouched(before, after):
    old, new = farm_of(before), farm_of(after)
    for i in range(min(before, after)):
        node = f"iad-node{i}"
        assert node_resources(new, node) == node_resources(old, node), node
    names = {r.name for r in new.resources} - {r.name for r in old.resources}
    removed = {r.name for r in old.resources} - {r.name for r in new.resources}
    changed_nodes = {n.split("-")[1] for n in names | removed if n.startswith("iad-node")}
    assert changed_nodes == {f"node{i}" for i in range(min(before, after), max(before, after))}


def test_only_the_farms_instances_carry_its_tag_and_discovery_is_held_to_the_region():
    run = run_program(FARM)
    instances = run.of_type(INSTANCE)
    assert {i.inputs["tags"]["bitbucket-mirrors:farm"] for i in instances} == {"test-iad"}
    # Behind a load balancer even one node is a farm (scaling it changes no node); nginx never is.
    single = run_program(STACKS / "single-acm.yaml")
    assert {i.inputs["tags"]["bitbucket-mirrors:farm"] for i in single.of_type(INSTANCE)} == {"test-fra"}
    nginx = run_program(STACKS / "single-nginx.yaml")
    assert all("bitbucket-mirrors:farm" not in i.inputs["tags"] for i in nginx.of_type(INSTANCE))
    assert not [p for p in nginx.of_type(ROLE_POLICY) if p.name.endswith("-discover-farm")]
    policies = [p for p in run.of_type(ROLE_POLICY) if p.name.endswith("-discover-farm")]
    assert len(policies) == 3
    region = instances[0].inputs["region"]
    assert all(p.inputs["policy"] == discovery_policy(region) for p in policies)
    assert json.loads(discovery_policy(region))["Statement"][0]["Condition"] == {"StringEquals": {"ec2:Region": region}}
    assert parliament.analyze_policy_string(discovery_policy(region)).findings == []


def test_hazelcast_stays_between_the_farms_own_nodes():
    run = run_program(FARM)
    rules = [r for r in run.resources if r.typ.startswith("aws:vpc/securityGroup") and r.inputs["fromPort"] == 5701]
    nodes = run.one(GROUP, "iad-nodes").id
    assert rules and all(
        r.inputs["referencedSecurityGroupId"] == nodes and r.inputs["securityGroupId"] == nodes for r in rules
    )
