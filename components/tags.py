"""The tags this project puts on AWS resources, written and read in one place.

A node's instance is found by its tags where its id cannot be an input (the drain before an instance
changes, providers/node_rollout.py), and a farm's nodes find each other by the farm tag (Hazelcast's
AWS discovery): whoever looks a resource up by its tags takes them from here.
"""

from __future__ import annotations

SITE = "bitbucket-mirrors:site"
STACK = "bitbucket-mirrors:stack"
FARM = "bitbucket-mirrors:farm"
NAME = "Name"
# A home's snapshot (providers/backup.py writes them; a restore and a refused downgrade read them).
NODE = "bitbucket-mirrors:node"
HOLDS = "bitbucket-mirrors:version"  # the Bitbucket version the home held
GENERATION = "bitbucket-mirrors:generation"  # the mirror generation the home belonged to
BEFORE = "bitbucket-mirrors:before"  # the change it was taken before (a retry finds it)
SNAPSHOT_KEYS = {"node": NODE, "version": HOLDS, "generation": GENERATION, "before": BEFORE}


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
