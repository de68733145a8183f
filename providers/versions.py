"""Bitbucket versions and what a change between two of them means for a farm.

Rolling (zero-downtime) upgrades cover bug-fix versions only, the same major.minor with a higher
patch; a minor or major upgrade stops every node, and nodes of different minor lines cannot form one
cluster (the vendor's "Upgrade a Bitbucket cluster through the API without downtime";
docs/bitbucket-facts.md §6). Bitbucket is never downgraded in place.
"""

from __future__ import annotations

from typing import Iterable, Optional

from facts.bitbucket import VERSION

INSTALL, NONE, BUGFIX, FEATURE, DOWNGRADE = "install", "none", "bugfix", "feature", "downgrade"


def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION.fullmatch(str(version))
    if not match:
        raise ValueError(f"'{version}' is not MAJOR.MINOR.PATCH")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def minor_line(version: str) -> str:
    """major.minor: nodes on one line can upgrade one at a time; across lines they cannot."""
    return ".".join(str(version).split(".")[:2])


def newest(versions: Iterable[str]) -> Optional[str]:
    found = sorted(versions, key=parse_version)
    return found[-1] if found else None


def upgrade_kind(running: Iterable[str], configured: str) -> str:
    """What moving every node from the versions they run to `configured` is: install (nothing runs
    yet), none, bugfix, feature (minor or major), or downgrade (some node runs a newer one)."""
    running = list(running)
    if not running:
        return INSTALL
    target = parse_version(configured)
    if any(parse_version(v) > target for v in running):
        return DOWNGRADE
    if all(parse_version(v) == target for v in running):
        return NONE
    return BUGFIX if all(parse_version(v)[:2] == target[:2] for v in running) else FEATURE
