"""The tags each of this project's AWS resources carries, built from the keys of facts/tags.py.

A node's instance is found by its tags where its id cannot be an input (the drain before an instance
changes, providers/node_rollout.py), and a farm's nodes find each other by the farm tag (Hazelcast's
AWS discovery): whoever looks a resource up by its tags takes them from here, and asks EC2 with
facts.tags.tag_filters.
"""

from __future__ import annotations

from facts.tags import BEFORE, FARM, GENERATION, HOLDS, NAME, NODE, SITE, SNAPSHOT_KEYS, STACK, tag_filters

# The keys are facts/tags.py's (the providers read them too); these are named here as well for the
# components, which take every tag from this module.
__all__ = [
    "BEFORE",
    "FARM",
    "GENERATION",
    "HOLDS",
    "NAME",
    "NODE",
    "SITE",
    "SNAPSHOT_KEYS",
    "STACK",
    "farm_tag",
    "named",
    "node_tags",
    "site_tags",
    "snapshot_tags",
    "stack_tags",
    "tag_filters",
]


def site_tags(stack: str, site: str) -> dict[str, str]:
    """Every resource of a site carries these."""
    return {SITE: site, STACK: stack}


def named(tags: dict[str, str], name: str) -> dict[str, str]:
    return {**tags, NAME: name}


def farm_tag(stack: str, site: str) -> tuple[str, str]:
    """The tag by which a farm's nodes, and only those, discover each other."""
    return FARM, f"{stack}-{site}"


def node_tags(stack: str, site: str, node: str) -> dict[str, str]:
    """The tags that find one node's instance (a subset of what the instance carries)."""
    return named(site_tags(stack, site), node)


def snapshot_tags(stack: str, site: str, node: str) -> dict[str, str]:
    """What every snapshot of one node's home carries, and finds it by."""
    return {**site_tags(stack, site), NODE: node}


def stack_tags(stack: str) -> dict[str, str]:
    return {STACK: stack}
