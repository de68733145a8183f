"""mirrors[].region and mirrors[].network: defaults, inheritance, and every refusal by key."""
from __future__ import annotations

import pytest

from .test_stack_config import BASE, BASTION_HOST_KEY, PEM_KEY, STACK_REGION, load, problems_of, with_

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
STACK_NETWORK = {"vpcId": VPC, "subnetIds": SUBNETS, "clientCidrs": ["10.0.0.0/8"], "adminCidrs": ["198.51.100.7/32"]}

REFUSALS = [
    # (case id, config, extra config, key named, words)
    ("not-a-region", with_("mirrors[0].region", "frankfurt"), {}, "mirrors[0].region", "an AWS region name"),
    ("region-upper-case", with_("mirrors[0].region", "EU-CENTRAL-1"), {}, "mirrors[0].region", "got 'EU-CENTRAL-1'"),
    ("no-region-anywhere", BASE, {"aws:region": None}, "mirrors[0].region", "set aws:region"),
    ("other-region-inherits-vpc", with_("mirrors[0].region", "eu-central-1", with_("network", {"vpcId": VPC})), {},
     "mirrors[0].region", "network.vpcId"),
    ("other-region-inherits-subnets", with_("mirrors[0].region", "eu-central-1", with_("network", {"subnetIds": SUBNETS})), {},
     "mirrors[0].region", "set mirrors[0].network.subnetIds for eu-central-1"),
    ("site-admin-cidr-open", with_("mirrors[0].network", {"adminCidrs": ["0.0.0.0/0"]}), {},
     "mirrors[0].network.adminCidrs[0]", "whole internet"),
    ("site-vpc-malformed", with_("mirrors[0].network", {"vpcId": "vpc-1"}), {}, "mirrors[0].network.vpcId", "a VPC id"),
    ("site-network-unknown-key", with_("mirrors[0].network", {"clientCidr": ["10.0.0.0/8"]}), {},
     "mirrors[0].network.clientCidr", "did you mean 'clientCidrs'"),
]


@pytest.mark.parametrize("raw, extra, path, words", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusal_names_the_key(raw, extra, path, words):
    message = problems_of(raw, extra=extra)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert words in message, message


def test_a_site_in_another_region_that_inherits_both_ids_is_told_about_both():
    message = problems_of(with_("mirrors[0].region", "us-west-2", with_("network", STACK_NETWORK)))
    assert "network.vpcId" in message and "network.subnetIds" in message and f"'{STACK_REGION}'" in message


def test_sites_default_to_the_stack_region_and_network():
    config = load(with_("network", STACK_NETWORK))
    (site,) = config.sites
    assert site.region == STACK_REGION and site.network == config.network


def test_a_site_network_replaces_only_the_keys_it_gives():
    raw = with_("network", STACK_NETWORK)
    raw = with_("mirrors[0].region", "eu-central-1", raw)
    raw = with_("mirrors[0].network", {"vpcId": "vpc-0aaaaaaaaaaaaaaa1", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1"]}, raw)
    (site,) = load(raw).sites
    assert site.region == "eu-central-1"
    assert site.network.vpc_id == "vpc-0aaaaaaaaaaaaaaa1" and site.network.subnet_ids == ("subnet-0aaaaaaaaaaaaaaa1",)
    assert site.network.client_cidrs == ("10.0.0.0/8",) and site.network.admin_cidrs == ("198.51.100.7/32",)


def test_a_site_can_ask_for_its_regions_default_vpc_explicitly():
    raw = with_("mirrors[0].region", "us-west-2", with_("network", STACK_NETWORK))
    raw = with_("mirrors[0].network", {"vpcId": None, "subnetIds": []}, raw)
    (site,) = load(raw).sites
    assert site.network.vpc_id is None and site.network.subnet_ids == ()


def test_the_same_region_may_inherit_ids_and_a_region_without_a_stack_region_is_fine():
    load(with_("mirrors[0].region", STACK_REGION, with_("network", STACK_NETWORK)))
    (site,) = load(with_("mirrors[0].region", "eu-west-1"), extra={"aws:region": None}).sites
    assert site.region == "eu-west-1"


def test_a_site_may_bring_its_own_bastion():
    bastion = {"host": "10.9.8.7", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}
    (site,) = load(with_("mirrors[0].network", {"bastion": bastion})).sites
    assert site.network.bastion is not None and site.network.bastion.host == "10.9.8.7"


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2", "eu-central-1", "us-gov-west-1", "il-central-1",
                                    "ap-southeast-5", "ca-west-1"])
def test_real_region_names_are_accepted(region):
    (site,) = load(with_("mirrors[0].region", region)).sites
    assert site.region == region
