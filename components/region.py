"""Where a site lives: its AWS region and the VPC and subnets it uses there.

Every regional resource and lookup of a site names the site's region through pulumi-aws 7's
per-resource `region` argument; global services (IAM, Route53) take none. One provider serves all
regions: a site keeps its URNs when it moves, and a new region adds no provider to the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import pulumi
import pulumi_aws as aws

from stack_config import Network, Site


@dataclass(frozen=True)
class Placement:
    """The VPC and subnets of one site (looked up once per distinct region and network)."""

    region: str
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]


def resolve_placement(network: Network, region: str) -> Placement:
    """The configured VPC and subnets, or the region's default VPC and all of its subnets."""
    vpc = (
        aws.ec2.get_vpc_output(id=network.vpc_id, region=region)
        if network.vpc_id
        else aws.ec2.get_vpc_output(default=True, region=region)
    )
    if network.subnet_ids:
        subnet_ids = pulumi.Output.from_input(list(network.subnet_ids))
    else:
        subnet_ids = aws.ec2.get_subnets_output(
            filters=[aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc.id])], region=region
        ).ids
    return Placement(region=region, vpc_id=vpc.id, vpc_cidr=vpc.cidr_block, subnet_ids=subnet_ids)


def placements(sites: Iterable[Site]) -> dict[str, Placement]:
    """Site name -> placement; sites in the same region with the same VPC settings share lookups."""
    found: dict[tuple[str, Optional[str], tuple[str, ...]], Placement] = {}
    by_site = {}
    for site in sites:
        key = (site.region, site.network.vpc_id, tuple(site.network.subnet_ids))
        if key not in found:
            found[key] = resolve_placement(site.network, site.region)
        by_site[site.name] = found[key]
    return by_site
