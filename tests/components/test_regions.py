"""A fleet across regions from one stack: every regional resource and lookup of a site is in that
site's region, global services stay global, and adding or moving a site touches only that site."""

from __future__ import annotations

import copy
import json

import pytest

from tests.harness import STACKS, ProgramRun, RecordedResource, default_vpc_of, run_program, stack_file_config
from tests.resource_types import (
    APPROVAL,
    CERT,
    GET_AMI,
    GET_SUBNET,
    GET_SUBNETS,
    GET_VPC,
    GROUP,
    INGRESS,
    INSTANCE,
    NLB,
)

STACK = STACKS / "three-regions.yaml"
REGIONS = {"syd": "ap-southeast-2", "fra": "eu-central-1", "pdx": "us-west-2"}
GLOBAL = ("aws:iam/", "aws:route53/")
REGIONAL_INVOKES = (GET_VPC, GET_SUBNETS, GET_AMI)


def site_of(resource: RecordedResource) -> str:
    return resource.name.split("-", 1)[0]


def aws_resources(run: ProgramRun) -> list[RecordedResource]:
    return [r for r in run.resources if r.typ.startswith("aws:")]


def run_config(config: dict, secret_keys: list) -> ProgramRun:
    return run_program(config=config, secret_keys=secret_keys)


@pytest.fixture(scope="module")
def fleet() -> ProgramRun:
    return run_program(STACK)


def test_every_regional_resource_names_its_sites_region(fleet):
    regional = [r for r in aws_resources(fleet) if not r.typ.startswith(GLOBAL)]
    assert {site_of(r) for r in regional} == set(REGIONS)
    wrong = [(r.typ, r.name, r.inputs.get("region")) for r in regional if r.inputs.get("region") != REGIONS[site_of(r)]]
    assert wrong == []


def test_global_services_carry_no_region(fleet):
    global_resources = [r for r in aws_resources(fleet) if r.typ.startswith(GLOBAL)]
    assert {r.typ.split("/")[0] for r in global_resources} == {"aws:iam", "aws:route53"}
    assert [r.name for r in global_resources if "region" in r.inputs] == []


def test_every_lookup_is_made_in_the_region_it_serves(fleet):
    calls = [c for c in fleet.calls if c.token in REGIONAL_INVOKES]
    assert all(c.args.get("region") in REGIONS.values() for c in calls), [c.args for c in calls]
    amis = sorted(c.args["region"] for c in calls if c.token == GET_AMI)
    assert amis == sorted(REGIONS.values())
    vpcs = {c.args["region"]: c.args for c in calls if c.token == GET_VPC}
    assert vpcs["eu-central-1"] == {"id": "vpc-0bbbbbbbbbbbbbbb1", "region": "eu-central-1"}
    assert vpcs["us-west-2"] == {"default": True, "region": "us-west-2"}  # its own default VPC
    assert vpcs["ap-southeast-2"] == {"id": "vpc-0aaaaaaaaaaaaaaa1", "region": "ap-southeast-2"}
    subnets = [c.args for c in calls if c.token == GET_SUBNETS]
    assert [s["region"] for s in subnets] == ["us-west-2"]


def test_each_site_uses_its_own_vpc_and_subnets(fleet):
    groups = {r.name: r for r in fleet.of_type(GROUP)}
    assert groups["fra-nodes"].inputs["vpcId"] == "vpc-0bbbbbbbbbbbbbbb1"
    assert groups["syd-nodes"].inputs["vpcId"] == "vpc-0aaaaaaaaaaaaaaa1"
    subnets = {r.name: r.inputs["subnetId"] for r in fleet.of_type(INSTANCE)}
    assert {subnets[f"fra-node{i}-instance"] for i in range(3)} == {
        "subnet-0bbbbbbbbbbbbbbb1",
        "subnet-0bbbbbbbbbbbbbbb2",
        "subnet-0bbbbbbbbbbbbbbb3",
    }
    # Clients of the Frankfurt site are its own; the admins are inherited from the stack.
    rules = [r for r in fleet.of_type(INGRESS) if r.name.startswith("fra-lb-in-clients")]
    assert {r.inputs["cidrIpv4"] for r in rules} == {"10.64.0.0/10"}
    admin = [r for r in fleet.of_type(INGRESS) if r.name.startswith("fra-nodes-in-admin-ssh")]
    assert [r.inputs["cidrIpv4"] for r in admin] == ["198.51.100.7/32"]


def test_the_certificate_is_in_its_load_balancers_region(fleet):
    for certificate in fleet.of_type(CERT):
        (lb,) = [r for r in fleet.of_type(NLB) if site_of(r) == site_of(certificate)]
        assert certificate.inputs["region"] == lb.inputs["region"] == REGIONS[site_of(certificate)]


def test_outputs_name_each_sites_region(fleet):
    for site, region in REGIONS.items():
        assert fleet.outputs[f"{site}Region"] == region
        assert fleet.outputs["mirrors"][site]["region"] == region


def test_the_approval_follows_the_zone_of_the_first_nodes_home(fleet):
    # A site that moves (another region, another zone) gets new, empty volumes: the approval is tied
    # to the zone of node 0's subnet, looked up in the site's region, so it is replaced; a restored
    # home (a new volume in the same zone, holding the same mirror) keeps it.
    for site in REGIONS:
        approval = fleet.one(APPROVAL, f"{site}-approval")
        instance = fleet.one(INSTANCE, f"{site}-node0-instance")
        (lookup,) = [
            c
            for c in fleet.calls
            if c.token == GET_SUBNET
            and c.args.get("id") == instance.inputs["subnetId"]
            and c.args.get("region") == REGIONS[site]
        ]
        assert lookup and approval.inputs["home_zone"] == REGIONS[site] + "a"  # the zone the lookup answers
        assert "mirror_home" not in approval.inputs


def _inputs_by_urn(run: ProgramRun) -> dict[str, dict]:
    return {r.urn: r.inputs for r in run.resources}


def _changed(before: ProgramRun, after: ProgramRun) -> set[str]:
    old, new = _inputs_by_urn(before), _inputs_by_urn(after)
    return {after.by_urn(urn).name for urn in old.keys() & new.keys() if old[urn] != new[urn]}


def test_adding_a_site_in_a_new_region_changes_no_existing_resource(fleet):
    config, secret_keys = stack_file_config(STACK)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    grown = copy.deepcopy(config)
    grown["bitbucket-mirrors:mirrors"] = json.dumps(
        mirrors
        + [
            {
                "name": "gru",
                "region": "sa-east-1",
                "baseUrl": "https://mirror-gru.example.com",
                "network": {"vpcId": None, "subnetIds": []},
                "tls": {"hostedZoneId": "Z0123456789ABCDEFGHIJ"},
            }
        ]
    )
    after = run_config(grown, secret_keys)
    assert _changed(fleet, after) == set()
    added = {r.name for r in after.resources} - {r.name for r in fleet.resources}
    assert added and all(name.startswith("gru") for name in added)
    # Two sites on default VPCs, each in its own region's: no lookup is shared across regions.
    groups = {r.name: r.inputs["vpcId"] for r in after.of_type(GROUP)}
    assert groups["gru-nodes"] == default_vpc_of("sa-east-1") != groups["pdx-nodes"] == default_vpc_of("us-west-2")
    instances = {r.name: r.inputs["subnetId"] for r in after.of_type(INSTANCE)}
    assert instances["gru-node0-instance"].startswith(f"subnet-{default_vpc_of('sa-east-1')[4:]}")


def test_dynamic_steps_and_farm_discovery_work_in_their_sites_region(fleet):
    steps = [r for r in fleet.resources if r.typ.startswith("pulumi-python:dynamic/") and "region" in r.inputs]
    assert {r.typ.rsplit(":", 1)[1] for r in steps} >= {
        "NodeDrain",
        "NodeReturn",
        "InstanceStopDrain",
        "InstanceStartReturn",
    }
    assert [(r.name, r.inputs["region"]) for r in steps if r.inputs["region"] != REGIONS[site_of(r)]] == []
    from tests.components.test_program import staged_files

    for i in range(3):
        properties = staged_files(fleet, f"fra-node{i}-stage")["bitbucket.properties"]
        assert "hazelcast.network.aws.region=eu-central-1\n" in properties


def test_moving_one_site_changes_only_that_sites_resources(fleet):
    config, secret_keys = stack_file_config(STACK)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[2]["region"] = "ca-central-1"
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    moved = run_config(config, secret_keys)
    changed = _changed(fleet, moved)
    assert changed and all(name.startswith("pdx") for name in changed), changed
    regional = [r for r in aws_resources(moved) if site_of(r) == "pdx" and not r.typ.startswith(GLOBAL)]
    assert all(r.inputs["region"] == "ca-central-1" for r in regional)
