"""MirrorSiteArgs: what one site is built from (the configured site, the primary, where it lives)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from stack_config import Mirror, Monitoring, Network, Primary, Site

from .region import Placement


@dataclass(frozen=True)
class MirrorSiteArgs:
    site: Site
    primary: Primary
    placement: Placement
    stack: str
    # Where this site's alarms notify (its own topic, or the one created for its region).
    alarm_topic_arn: Optional[pulumi.Input[str]] = None

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
