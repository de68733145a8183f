"""RolloutPlan: what a site's rollout does this `up`, decided once by the site (components/site.py)
and handed to the rollout (components/rollout.py), which calls nothing back.

The plan names apart three facts that the providers' inputs all call `farm` (their input names are
in every stack's state and stay): `multi_node` (more than one node: an upgrade window and its finish
coordinate them), `clustered` (the nodes form one Bitbucket farm: a node's return waits for the
farm to list it) and `behind_lb` (clients reach the nodes through a load balancer: a drain takes a
node out of its target groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from stack_config import Mirror, Site

from .host import MirrorHostArgs
from .install import MirrorInstallArgs
from .load_balancer import MirrorLoadBalancer


@dataclass(frozen=True)
class NodePlan:
    """One node of the site: the names of its resources and what its instance is built from."""

    # `<site>-node<i>`: the name of the node's host, steps and install. Changing it replaces the node.
    name: str
    # The node's instance, home and role. `instance_wait_for` holds what the site must keep until the
    # instance goes (its network rules); the rollout adds the node's drain before an instance change.
    host: MirrorHostArgs
    # The node's tags (components/tags.py), by which its drain finds the instance before it changes.
    instance_tags: dict[str, str]
    # What the node boots with, as a digest: a new one makes EC2 stop and start the instance, and the
    # rollout drains the node first.
    user_data_digest: str


@dataclass(frozen=True)
class RolloutPlan:
    """Everything a site's rollout needs, decided by the site: its nodes in order, the install every
    node gets, and the shape of the site. Frozen: the rollout reads it, never changes it."""

    # The site's name: the prefix of every step's name (its URN), and its snapshots' tag.
    name: str
    # The stack: the snapshots' and nodes' tags are scoped by it.
    stack: str
    # The configured site (mirror, region, backup, index for messages naming its keys).
    site: Site
    # The primary's CA bundle (None: the system's), for every check the steps make over HTTPS.
    ca_bundle: Optional[str]
    # The nodes, in the order they change: node 0 first (it verifies the archive, it serves first).
    nodes: tuple[NodePlan, ...]
    # What every node installs; `host` is None here and set per node by the rollout.
    install: MirrorInstallArgs
    # More than one node: the upgrade window coordinates them and an upgrade finish ends the window.
    multi_node: bool
    # The nodes form one Bitbucket farm (Hazelcast): a node is back only once the farm lists it.
    clustered: bool
    # Clients reach the nodes through `load_balancer`: a drain takes a node out of its target groups.
    behind_lb: bool
    # The site's load balancer (None: nginx on the node, no targets to drain).
    load_balancer: Optional[MirrorLoadBalancer] = None
    # The site's URN: preview warnings of the steps appear under it.
    warn_to: Optional[str] = None

    def __post_init__(self) -> None:
        # The shape is stated once, here: a plan that contradicts itself is a bug in the site.
        if self.multi_node != (len(self.nodes) > 1):
            raise ValueError(f"multi_node={self.multi_node} with {len(self.nodes)} node(s)")
        if self.behind_lb != (self.load_balancer is not None):
            raise ValueError(f"behind_lb={self.behind_lb} with load_balancer={self.load_balancer!r}")

    @property
    def mirror(self) -> Mirror:
        return self.site.mirror

    @property
    def region(self) -> str:
        return self.site.region

    def key(self, name: str) -> str:
        """The configuration key `name` of this site, as messages name it (mirrors[<i>].<name>)."""
        return f"mirrors[{self.site.index}].{name}"

    @property
    def target_groups(self) -> pulumi.Input[list]:
        return self.load_balancer.target_groups if self.load_balancer is not None else []

    @property
    def lb_arn_suffix(self) -> Optional[pulumi.Input[str]]:
        return self.load_balancer.arn_suffix if self.load_balancer is not None else None
