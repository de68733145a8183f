"""The sites of a stack as the twin reads them from its config (name, host, nodes, version, behind a
load balancer or not), and what the twin reports for a site after an `up`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

NAMESPACE = "bitbucket-mirrors"


@dataclass(frozen=True)
class Site:
    """One mirror of a stack as the twin watches it: its name, base URL's host, nodes, version."""

    name: str
    host: str
    nodes: int
    version: str
    behind_lb: bool


@dataclass
class SiteReport:
    """What clients saw of one site over an up: how many nodes served when, the outage, versions,
    snapshots and root replacements (the scenarios' and README's figures)."""

    nodes: int
    min_serving: int
    outage_s: float
    versions_after: list[Optional[str]]
    serving_after: int
    upgrade_mode_after: bool
    approved_after: bool
    ssh_host_keys: int = 0  # distinct SSH host keys the serving nodes present on 7999
    serving_from_s: Optional[float] = None
    # EBS snapshots of the site's homes that exist at the end: (seconds from the start it was taken,
    # the Bitbucket version its home held); and when Bitbucket first stopped on a node.
    snapshots: list[tuple[float, Optional[str]]] = field(default_factory=list)
    first_stop_s: Optional[float] = None
    roots_replaced: int = 0  # root volume replacements during the window
    # Nodes serving over the `up`: [seconds from its start, how many] each time the number changes.
    serving: list[tuple[float, int]] = field(default_factory=list)

    def json(self) -> dict:
        return {
            "nodes": self.nodes,
            "min_serving": self.min_serving,
            "outage_s": round(self.outage_s, 1),
            "versions_after": self.versions_after,
            "serving_after": self.serving_after,
            "upgrade_mode_after": self.upgrade_mode_after,
            "approved_after": self.approved_after,
            "ssh_host_keys": self.ssh_host_keys,
            "snapshots": [[round(t, 1), v] for t, v in self.snapshots],
            "first_stop_s": round(self.first_stop_s, 1) if self.first_stop_s is not None else None,
            "roots_replaced": self.roots_replaced,
            "serving": [[round(t, 1), n] for t, n in self.serving],
            **({"serving_from_s": round(self.serving_from_s, 1)} if self.serving_from_s is not None else {}),
        }


def sites_of(config: dict[str, str]) -> list[Site]:
    mirrors = json.loads(config[f"{NAMESPACE}:mirrors"])
    return [
        Site(
            m["name"],
            urlsplit(m["baseUrl"]).hostname or "",
            int(m.get("nodes", 1)),
            m.get("bitbucketVersion", "9.4.16"),
            (m.get("tls") or {}).get("mode", "acm") == "acm",
        )
        for m in mirrors
    ]
