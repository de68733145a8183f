"""Changes that cannot go together in one `up`, refused at preview naming the keys and the order.

Scaling a farm in together with a version change: the engine deletes the leaving nodes only after
every create and update of the `up` (Pulumi runs the deletes of removed resources last), so while
the staying nodes upgrade, the leaving ones still run the old version in the same farm. Outside
upgrade mode (a single node left, or a minor upgrade) the first upgraded node cannot join them and
its install times out, on every `up` after as well. Scaling out together with an upgrade converges
(the new nodes install the new version), and so does scaling in with an instance type or an OS
image change (no version changes): those are not refused.
"""

from __future__ import annotations

from typing import Any, Optional

from pulumi.dynamic import CheckFailure

from . import mirror_api, versions
from .errors import ProviderError


def nodes_key(version_key: str) -> str:
    """mirrors[i].nodes, from mirrors[i].bitbucketVersion (the window's own key)."""
    return version_key.rsplit(".", 1)[0] + ".nodes"


def scale_in_with_upgrade(installed: list[str], listed: Optional[int], news: dict[str, Any]) -> Optional[CheckFailure]:
    """A refusal when the farm lists more nodes than configured and the version changes too."""
    configured, key = str(news.get("version")), str(news.get("version_key"))
    nodes = int(news.get("nodes") or 1)
    if listed is None or listed <= nodes:
        return None
    if versions.upgrade_kind(installed, configured) not in (versions.BUGFIX, versions.FEATURE):
        return None
    running = ", ".join(installed)
    return CheckFailure(
        "nodes",
        f"{nodes_key(key)}: {listed} -> {nodes} together with {key}: {running} -> {configured} in one up cannot "
        f"converge: the nodes that leave still run {running} in the farm while the others upgrade. Do it in two "
        f"ups: first {nodes_key(key)}: {nodes} with {key} left at {running}, then {key}: {configured}",
    )


def scale_in_with_rebuild(listed: Optional[int], olds: dict[str, Any], news: dict[str, Any]) -> Optional[CheckFailure]:
    """A refusal when the farm lists more nodes than configured and the site is rebuilt as a new
    mirror (MirrorGeneration's generation changes, or is unknown at preview because it will)."""
    nodes, key = int(news.get("nodes") or 1), nodes_key(str(news.get("version_key")))
    old, new = olds.get("generation"), news.get("generation")
    if listed is None or listed <= nodes or not old or new == old:
        return None
    site = key.rsplit(".", 1)[0]
    return CheckFailure(
        "nodes",
        f"{key}: {listed} -> {nodes} together with a rebuild as a new mirror (a new {site}.displayName, "
        f"{site}.baseUrl, primary.url, {site}.mirrorAll back to false or {site}.kmsKeyArn) in one up cannot "
        f"converge: the nodes that leave still serve the old mirror in the farm while the others start as the new "
        f"one. Do it in two ups: first {key}: {nodes} with the rest as it was, then the rebuild",
    )


def upgrade_from_one_node(installed: list[str], listed: Optional[int], news: dict[str, Any]) -> Optional[str]:
    """What clients notice when a site of one node grows to a farm and upgrades in the same `up`: the
    new nodes serve only after the first node's upgrade, so the one node serving now goes out (a
    bug-fix upgrade rolls only between nodes that already serve)."""
    if listed is None or listed >= 2:
        return None
    configured, key = str(news.get("version")), str(news.get("version_key"))
    running = ", ".join(installed)
    return (
        f"{key}: {running} -> {configured} together with {nodes_key(key)}: {listed} -> {int(news.get('nodes') or 1)}: "
        f"the one node serving now upgrades before the new nodes serve; the mirror is unavailable until Bitbucket "
        f"runs {configured} on it (scale out first, then upgrade, and the farm keeps serving)"
    )


def nodes_listed(client: Any, clustered: bool) -> Optional[int]:
    """How many nodes the farm lists now (None: not a farm, or nothing answers)."""
    if not clustered:
        return None
    try:
        return len(mirror_api.farm_nodes(client))
    except (ProviderError, ValueError):
        return None
