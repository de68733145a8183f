"""mirrors[].region and mirrors[].network: defaults, inheritance, and every refusal by key."""

from __future__ import annotations

import pytest

from .test_stack_config import BASE, BASTION_HOST_KEY, PEM_KEY, STACK_REGION, load, problems_of, with_

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
STACK_NETWORK = {"vpcId": VPC, "subnetIds": SUBNETS, "clientCidrs": ["10.0.0.0/8"], "adminCidrs": ["198.51.100.7/32"]}


def CERT_IN(region: str) -> str:
    return f"arn:aws:acm:{region}:123456789012:certificate/0a1b2c3d-0000-4000-8000-123456789abc"


REFUSALS = [
    # (case id, config, extra config, key named, words)
    ("not-a-region", with_("mirrors[0].region", "frankfurt"), {}, "mirrors[0].region", "an AWS region name"),
    ("region-upper-case", with_("mirrors[0].region", "EU-CENTRAL-1"), {}, "mirrors[0].region", "got 'EU-CENTRAL-1'"),
    ("no-region-anywhere", BASE, {"aws:region": None}, "mirrors[0].region", "set aws:region"),
    (
        "other-region-inherits-vpc",
        with_("mirrors[0].region", "eu-central-1", with_("network", {"vpcId": VPC})),
        {},
        "mirrors[0].region",
        "network.vpcId",
    ),
    (
        "other-region-inherits-subnets",
        with_("mirrors[0].region", "eu-central-1", with_("network", {"subnetIds": SUBNETS})),
        {},
        "mirrors[0].region",
        "set mirrors[0].network.subnetIds for eu-central-1",
    ),
    (
        "site-admin-cidr-open",
        with_("mirrors[0].network", {"adminCidrs": ["0.0.0.0/0"]}),
        {},
        "mirrors[0].network.adminCidrs[0]",
        "whole internet",
    ),
    ("site-vpc-malformed", with_("mirrors[0].network", {"vpcId": "vpc-1"}), {}, "mirrors[0].network.vpcId", "a VPC id"),
    (
        "site-network-unknown-key",
        with_("mirrors[0].network", {"clientCidr": ["10.0.0.0/8"]}),
        {},
        "mirrors[0].network.clientCidr",
        "did you mean 'clientCidrs'",
    ),
    (
        "no-stack-region-two-regions-share-the-stack-vpc",
        with_(
            "mirrors",
            [
                {**BASE["mirrors"][0], "region": "ap-southeast-2"},
                {
                    **BASE["mirrors"][0],
                    "name": "fra",
                    "region": "eu-central-1",
                    "baseUrl": "https://mirror-fra.example.com",
                },
            ],
            with_("network", {"vpcId": VPC}),
        ),
        {"aws:region": None},
        "mirrors[1].region",
        "'eu-central-1' differs from mirrors[0].region 'ap-southeast-2', but the site would use network.vpcId",
    ),
    (
        "certificate-of-another-region",
        with_("mirrors[0].tls", {"certificateArn": CERT_IN("us-east-1")}),
        {},
        "mirrors[0].tls.certificateArn",
        f"the certificate is in us-east-1, but mirrors[0] (syd) runs in {STACK_REGION}",
    ),
    (
        "certificate-of-the-stack-region-for-a-site-elsewhere",
        with_("mirrors[0].region", "eu-central-1", with_("mirrors[0].tls", {"certificateArn": CERT_IN(STACK_REGION)})),
        {},
        "mirrors[0].tls.certificateArn",
        "runs in eu-central-1: a load balancer can only use an ACM certificate of its own",
    ),
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
    raw = with_(
        "mirrors[0].network", {"vpcId": "vpc-0aaaaaaaaaaaaaaa1", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1"]}, raw
    )
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


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "ap-southeast-2", "eu-central-1", "us-gov-west-1", "il-central-1", "ap-southeast-5", "ca-west-1"],
)
def test_real_region_names_are_accepted(region):
    (site,) = load(with_("mirrors[0].region", region)).sites
    assert site.region == region


@pytest.mark.parametrize(
    "raw",
    [
        with_("mirrors[0].tls", {"certificateArn": CERT_IN(STACK_REGION)}),
        with_(
            "mirrors[0].region", "eu-central-1", with_("mirrors[0].tls", {"certificateArn": CERT_IN("eu-central-1")})
        ),
    ],
    ids=["stack-region", "site-region"],
)
def test_a_certificate_of_the_sites_own_region_is_accepted(raw):
    assert load(raw).sites[0].mirror.tls.certificate_arn.split(":")[3] == load(raw).sites[0].region


def _botocore_partitions() -> list[dict]:
    import json
    import os

    import botocore

    with open(os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")) as f:
        return json.load(f)["partitions"]


def test_every_region_aws_knows_is_accepted_and_names_outside_its_partitions_are_not():
    import re

    from stack_config.model import REGION_PATTERN

    partitions = _botocore_partitions()
    known = [region for p in partitions for region in p["regions"]]
    assert len(known) > 30
    assert [r for r in known if not re.match(REGION_PATTERN, r)] == []
    for name in ("zz-moon-7", "eu-central", "eu-central-1a", "us-gov-", "cn-north-", "eusc-fr-east-1"):
        assert not re.match(REGION_PATTERN, name), name
        assert not any(re.match(p["regionRegex"], name) for p in partitions if name != "eusc-fr-east-1"), name
    assert "mirrors[0].region" in problems_of(with_("mirrors[0].region", "zz-moon-7"))
