"""Where each mirror site lives: its AWS region and its network, after inheritance.

A site inherits the stack's `aws:region` and every stack-wide `network` key it does not set
itself (`mirrors[].network` replaces key by key: a site may set only its VPC and subnets and keep
the stack's client and admin CIDRs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .model import Backup, Mirror, Monitoring, Network


@dataclass(frozen=True)
class Site:
    """One mirror with what it inherits resolved (region, network, monitoring, backup, KMS key): the
    components build a site from it, so a change here changes that site's resources."""

    mirror: Mirror
    region: str
    network: Network
    monitoring: Optional[Monitoring] = None  # None: this site is not monitored
    backup: Backup = Backup()
    kms_key_arn: Optional[str] = None  # the site's own key, else the stack's; None: AWS-managed keys
    iam_permissions_boundary_arn: Optional[str] = None  # the boundary of the roles the site creates
    index: int = 0  # its place in `mirrors`, for messages that name keys

    @property
    def name(self) -> str:
        return self.mirror.name


def site_network(stack_network: Network, override: Optional[Network]) -> Network:
    if override is None:
        return stack_network
    return stack_network.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})


def site_monitoring(stack_monitoring: Optional[Monitoring], override: Optional[Monitoring]) -> Optional[Monitoring]:
    """The stack-wide monitoring block with this site's keys applied (a site may also turn it on alone)."""
    if override is None:
        return stack_monitoring
    base = stack_monitoring or Monitoring()
    return base.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})


def inherited_placement_keys(mirror: Mirror, stack_network: Network) -> list[str]:
    """The stack-wide VPC/subnet keys this site would use as they are (ids that name one region)."""
    own = mirror.network.model_fields_set if mirror.network is not None else set()
    return [
        key
        for field, key in (("vpc_id", "vpcId"), ("subnet_ids", "subnetIds"))
        if field not in own and getattr(stack_network, field)
    ]


def site_backup(stack_backup: Backup, override: Optional[Backup]) -> Backup:
    """The stack-wide backup keys with this site's applied."""
    if override is None:
        return stack_backup
    return stack_backup.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})
