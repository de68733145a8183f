"""What a valid stack would create, per site, and about what it costs a month at list prices.

The offline check prints it (`scripts/up.sh --check <stack>`), so nobody learns from the bill that
the sample they copied was three regions and five nodes. The plan follows the program's own decisions
(components/site.py: a load balancer exactly for tls.mode acm, a node's public address without a
bastion or for public clients without one); prices come from stack_config/prices.json, one region's
list prices with their source and date.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from facts.hosts import ROOT_VOLUME_GB, needs_public_endpoint

from .instance_types import InstanceSize, size_of
from .model import Mirror, StackModel
from .sites import site_backup, site_network

PRICES = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Prices:
    """One region's list prices (prices.json, with its source and date), per hour or GiB-month; a
    change moves every estimate the offline check prints, never what is deployed."""

    region: str
    date: str
    hours: int
    large_per_hour: dict[str, float]
    burstable_per_hour: dict[str, float]
    gp3_gb_month: float
    snapshot_gb_month: float
    nlb_hour: float
    nlb_lcu_hour: float
    nlb_lcus: float
    ipv4_hour: float

    def instance_hour(self, instance_type: str) -> Optional[float]:
        """The on-demand price of `instance_type`, or None when the table has none."""
        if instance_type in self.burstable_per_hour:
            return self.burstable_per_hour[instance_type]
        family = instance_type.partition(".")[0]
        if family not in self.large_per_hour:
            return None
        try:
            size = size_of(instance_type)
        except ValueError:  # a metal size, or no type at all: no per-vCPU price
            return None
        # The families listed cost in proportion to their vCPUs: xlarge twice large, medium half.
        return self.large_per_hour[family] * size.vcpus / 2


@functools.lru_cache(maxsize=1)
def load_prices(path: Path = PRICES) -> Prices:
    data = json.loads(path.read_text())
    return Prices(
        region=data["region"],
        date=data["date"],
        hours=data["hours_per_month"],
        large_per_hour={k: v for k, v in data["ec2_large_per_hour"].items() if not k.startswith("_")},
        burstable_per_hour=data["ec2_burstable_per_hour"],
        gp3_gb_month=data["gp3_per_gb_month"],
        snapshot_gb_month=data["snapshot_per_gb_month"],
        nlb_hour=data["nlb_per_hour"],
        nlb_lcu_hour=data["nlb_lcu_per_hour"],
        nlb_lcus=data["nlb_lcus_estimated"],
        ipv4_hour=data["public_ipv4_per_hour"],
    )


@dataclass(frozen=True)
class SitePlan:
    """What one site would create, following the program's decisions: its nodes, load balancer,
    public addresses and snapshots; the estimate prices it, and a change here shows in the offline
    check's table only."""

    name: str
    region: str
    host: str
    mirror: Mirror
    load_balancer: Optional[str]  # "internet-facing" or "internal"; None: nginx on the node
    public_nodes: int  # nodes with a public IPv4 address
    snapshots_kept: int  # per node; 0 with backup off

    @property
    def nodes(self) -> int:
        return self.mirror.nodes


@dataclass(frozen=True)
class SiteCost:
    """One site's monthly cost by item at list prices (`instances` None: the type has no price); it
    changes what the offline check prints, nothing else."""

    instances: Optional[float]  # None: the type has no price in the table
    volumes: float
    snapshots: float  # an upper bound: full copies of each home, `keep` of them
    load_balancer: float
    public_ipv4: float

    @property
    def total(self) -> float:
        return (self.instances or 0) + self.volumes + self.snapshots + self.load_balancer + self.public_ipv4


def plan(stack: StackModel, aws_region: Optional[str]) -> list[SitePlan]:
    plans = []
    for mirror in stack.mirrors:
        network = site_network(stack.network, mirror.network)
        backup = site_backup(stack.backup, mirror.backup)
        public = needs_public_endpoint(tuple(network.client_cidrs) + tuple(stack.primary.cidrs))
        behind_lb = mirror.tls.mode == "acm"
        public_address = network.bastion is None or (public and not behind_lb)
        plans.append(
            SitePlan(
                name=mirror.name,
                region=mirror.region or aws_region or "",
                host=(urlsplit(mirror.base_url).hostname or "").rstrip("."),
                mirror=mirror,
                load_balancer=("internet-facing" if public else "internal") if behind_lb else None,
                public_nodes=mirror.nodes if public_address else 0,
                snapshots_kept=backup.keep if backup.enabled else 0,
            )
        )
    return plans


def cost(site: SitePlan, prices: Prices) -> SiteCost:
    hourly = prices.instance_hour(site.mirror.instance_type)
    home = site.mirror.home_volume_gb
    lb_hourly = prices.nlb_hour + prices.nlb_lcus * prices.nlb_lcu_hour
    return SiteCost(
        instances=None if hourly is None else site.nodes * hourly * prices.hours,
        volumes=site.nodes * (ROOT_VOLUME_GB + home) * prices.gp3_gb_month,
        snapshots=site.nodes * site.snapshots_kept * home * prices.snapshot_gb_month,
        load_balancer=lb_hourly * prices.hours if site.load_balancer else 0.0,
        public_ipv4=site.public_nodes * prices.ipv4_hour * prices.hours,
    )


def _size_words(instance_type: str) -> str:
    try:
        size: InstanceSize = size_of(instance_type)
    except ValueError:
        return instance_type
    return f"{instance_type} ({size.vcpus} vCPU, {size.memory_gib:g} GiB)"


def _dns_line(site: SitePlan) -> str:
    tls = site.mirror.tls
    target = "the load balancer" if site.load_balancer else "the node's public address"
    if tls.hosted_zone_id:
        record = "an alias A record" if site.load_balancer else "an A record"
        line = f"{site.host}: {record} in zone {tls.hosted_zone_id} to {target}"
        if site.load_balancer and not tls.certificate_arn:
            line += f"; an ACM certificate for {site.host}, validated by a CNAME record in that zone"
        return line
    later = " (it changes on every stop and start)" if not site.load_balancer else ""
    return f"{site.host}: no record (no tls.hostedZoneId): point it at {target}{later} yourself"


def describe(site: SitePlan) -> list[str]:
    """The lines saying what one site creates."""
    mirror = site.mirror
    nodes = f"{site.nodes} node{'s' if site.nodes != 1 else ''}, {_size_words(mirror.instance_type)}"
    if site.public_nodes:
        nodes += ", each with a public IPv4 address"
    lines = [
        f"  {site.name} in {site.region or '(no region)'}: {mirror.base_url}",
        f"    {nodes}",
        f"    volumes: per node a {ROOT_VOLUME_GB} GiB root and a {mirror.home_volume_gb} GiB home (gp3, encrypted)",
    ]
    if site.snapshots_kept:
        kept = site.snapshots_kept
        lines.append(f"    snapshots: up to {kept} of each node's home (backup.keep), before upgrades and rebuilds")
    if site.load_balancer:
        lines.append(f"    load balancer: one {site.load_balancer} network load balancer (tls.mode acm), 443 and 7999")
    else:
        lines.append("    load balancer: none (nginx on the node terminates TLS)")
    lines.append(f"    DNS: {_dns_line(site)}")
    return lines


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def _cost_line(site: SitePlan, site_cost: SiteCost) -> str:
    parts = []
    if site_cost.instances is None:
        parts.append(f"instances not counted: no list price for {site.mirror.instance_type} in the table")
    else:
        parts.append(f"instances {_money(site_cost.instances)}")
    parts.append(f"volumes {_money(site_cost.volumes)}")
    if site_cost.snapshots:
        parts.append(f"snapshots at most {_money(site_cost.snapshots)}")
    if site_cost.load_balancer:
        parts.append(f"load balancer {_money(site_cost.load_balancer)}")
    if site_cost.public_ipv4:
        parts.append(f"public IPv4 {_money(site_cost.public_ipv4)}")
    return f"  {site.name}: {_money(site_cost.total)} ({', '.join(parts)})"


def report(stack: StackModel, aws_region: Optional[str], prices: Optional[Prices] = None) -> str:
    """What the offline check prints for a valid stack: the plan per site, then the estimate."""
    prices = prices or load_prices()
    sites = plan(stack, aws_region)
    costs = [cost(site, prices) for site in sites]
    lines = ["What it creates, per site:"]
    for site in sites:
        lines += describe(site)
    lines.append(
        f"About what it costs a month at {prices.region} on-demand list prices of {prices.date} "
        f"(stack_config/prices.json: its sources; other regions differ, most cost more):"
    )
    lines += [_cost_line(site, site_cost) for site, site_cost in zip(sites, costs)]
    unpriced = any(c.instances is None for c in costs)
    total = sum(c.total for c in costs)
    lines.append(f"  total: about ${total:,.0f} a month{' plus the instances not counted' if unpriced else ''}")
    lines.append(
        f"  (load balancers at {prices.nlb_lcus:g} capacity unit of traffic; snapshots as full copies, an upper "
        "bound. Not counted: data transfer, CloudWatch, KMS keys, Route53, discounts.)"
    )
    return "\n".join(lines)
