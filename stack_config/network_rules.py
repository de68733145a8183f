"""Cross-field rules of who may reach the mirrors (CIDR lists against the public-space bound) and where
a site's network lies (stack-wide VPC and subnet ids name one region's resources).
"""

from __future__ import annotations

import ipaddress

from .errors import Problem
from .model import Mirror, Network
from .public_space import BOUND_WORDS, public_space
from .rule_context import Context
from .sites import inherited_placement_keys


def public_space_problems(at: str, cidrs: tuple[str, ...], opens: str, expected: str) -> list[Problem]:
    """No single entry, and not the list together, covers more public space than the bound."""
    problems = []
    for j, cidr in enumerate(cidrs):
        if ipaddress.ip_network(cidr).prefixlen == 0:
            problems.append(Problem(f"{at}[{j}]", f"'{cidr}' opens {opens} to the whole internet; expected {expected}"))
        elif public_space([cidr]).too_wide:
            problems.append(
                Problem(
                    f"{at}[{j}]",
                    f"'{cidr}' opens {opens} to {public_space([cidr]).words()}; {BOUND_WORDS}: expected {expected}",
                )
            )
    together = public_space(cidrs)
    if not problems and together.too_wide:
        problems.append(
            Problem(
                at,
                f"together these {len(cidrs)} ranges open {opens} to {together.words()} "
                f"(overlaps counted once); {BOUND_WORDS}: expected {expected}",
            )
        )
    return problems


# The network lists that open a port: (key, field, the port in words, what to list instead).
_NETWORK_LISTS = (
    ("adminCidrs", "admin_cidrs", "SSH", "your admin addresses (e.g. 198.51.100.7/32) or use network.bastion"),
    (
        "clientCidrs",
        "client_cidrs",
        "clones (443 and 7999)",
        "your clients' networks (e.g. 10.0.0.0/8, or your offices' egress addresses)",
    ),
)


def network_cidr_problems(ctx: Context, at: str, network: Network) -> list[Problem]:
    problems = []
    for key, field, opens, expected in _NETWORK_LISTS:
        if ctx.usable(f"{at}.{key}"):
            problems += public_space_problems(f"{at}.{key}", getattr(network, field), opens, expected)
    return problems


def primary_cidr_problems(ctx: Context) -> list[Problem]:
    if not ctx.usable("primary.cidrs") or ctx.stack.primary is None:
        return []
    return public_space_problems(
        "primary.cidrs",
        ctx.stack.primary.cidrs,
        "the mirrors' HTTPS (443)",
        "the primary's egress addresses (e.g. 203.0.113.10/32)",
    )


def placement_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    at = f"mirrors[{i}]"
    stack, aws_region = ctx.stack, ctx.aws_region
    if not ctx.usable(f"{at}.region", "aws:region"):
        return []
    if mirror.region is None:
        if aws_region is None:
            return [
                Problem(
                    f"{at}.region",
                    "no region: set aws:region for the stack "
                    f"(pulumi config set aws:region <region>) or {at}.region for this site",
                )
            ]
        return []
    if not ctx.usable("network.vpcId", "network.subnetIds", f"{at}.network"):
        return []
    # The stack-wide ids name resources of one region: aws:region's, or without it the first site's
    # that uses them (which cannot be told while any site's region or network failed).
    owner, named = aws_region, "the stack's aws:region"
    if owner is None:
        if not all(ctx.usable(f"mirrors[{k}].region", f"mirrors[{k}].network") for k in range(len(stack.mirrors))):
            return []
        users = [(k, m) for k, m in ctx.mirrors() if inherited_placement_keys(m, stack.network)]
        if users:
            k, first = users[0]
            owner, named = first.region, f"mirrors[{k}].region"
    if owner is None or mirror.region == owner:
        return []
    return [
        Problem(
            f"{at}.region",
            f"'{mirror.region}' differs from {named} '{owner}', but the site would use "
            f"network.{key}, which names {owner} resources: set {at}.network.{key} for {mirror.region} "
            f"(or {at}.network.vpcId: null and subnetIds: [] for that region's default VPC)",
        )
        for key in inherited_placement_keys(mirror, stack.network)
    ]
