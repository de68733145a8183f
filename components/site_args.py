"""MirrorSiteArgs: what one site is built from (the configured site, the primary, where it lives)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from stack_config import Mirror, Monitoring, Network, Primary, Site

from .region import Placement


@dataclass(frozen=True)
class MirrorSiteArgs:
    """What one site (components/site.py MirrorSite) is built from: the configured site, the primary
    it mirrors, and where it lives. A change of any of them changes that site's resources alone."""

    # The configured site, its inheritance resolved (mirror, region, network, monitoring, backup, keys).
    site: Site
    # The primary it mirrors: its URL and CA (setup, approval), its addresses (security groups).
    primary: Primary
    # The VPC and subnets of the site (components/region.py): new ones replace its nodes.
    placement: Placement
    # The stack: names, tags and parameters of the site are scoped by it.
    stack: str
    # Where this site's alarms notify (its own topic, or the one created for its region).
    alarm_topic_arn: Optional[pulumi.Input[str]] = None

    # The site's parts, by the names the components use.
    @property
    def monitoring(self) -> Optional[Monitoring]:
        return self.site.monitoring

    @property
    def mirror(self) -> Mirror:
        return self.site.mirror

    @property
    def network(self) -> Network:
        return self.site.network

    @property
    def region(self) -> str:
        return self.site.region
