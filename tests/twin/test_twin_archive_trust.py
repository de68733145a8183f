"""Trust on first use through the twin: every node verifies its own download, at once, and a node
served other bytes than the others stops the `up` before any node stops."""

from __future__ import annotations

import pytest

from twin.scenarios import BUGFIX, stack_with
from twin.twin import Twin


@pytest.fixture(scope="module")
def bugfix_with_node1_served_a_republished_archive(tmp_path_factory):
    """farm-3's first up, then its bug-fix up while node 1's downloads come from a cache holding the
    vendor's republished 9.4.17 (other bytes, with a feed whose MD5 matches them)."""
    directory = tmp_path_factory.mktemp("trust")
    before = stack_with("farm-3", {}, {}, directory, "before")
    after = stack_with("farm-3", BUGFIX, {}, directory, "after")
    twin = Twin([before, after])
    try:
        first = twin.up(before)
        assert first.error is None, first.error
        twin.faults.republished_nodes = frozenset({1})
        result = twin.up(after)
        (site,) = twin._sites
        report = twin.report(site, result.start, result.end)
        return result, report, twin.clients.between(site.name, result.start, result.end)
    finally:
        twin.close()


def test_a_node_served_other_bytes_stops_the_up_naming_the_nodes_and_both_digests(
    bugfix_with_node1_served_a_republished_archive,
):
    result, _, _ = bugfix_with_node1_served_a_republished_archive
    assert result.error and "iad-archive-trust" in result.error
    assert "the nodes downloaded different bytes for atlassian-bitbucket-9.4.17.tar.gz" in result.error
    # Each digest is named with the nodes that verified it.
    assert "iad-node0, iad-node2 verified sha256 " in result.error and "iad-node1 verified sha256 " in result.error
    # Every node verified its own download, none waiting for another's.
    preflights = [s for s in result.steps if s.name.endswith("-preflight")]
    assert len(preflights) == 3 and len({s.start for s in preflights}) == 1


def test_no_node_stopped_and_no_clone_failed(bugfix_with_node1_served_a_republished_archive):
    result, report, clones = bugfix_with_node1_served_a_republished_archive
    changed = {s.name for s in result.steps if s.operation != "same"}
    assert not {name for name in changed if name.endswith(("-stop-for-upgrade", "-stage", "-install", "-os-image"))}
    # Only node 0 left its load balancer, beside the preflights (issue #29): the others serve, and
    # every node still runs the version it ran.
    assert {name for name in changed if name.endswith("-drain")} == {"iad-node0-drain"}
    assert report.min_serving >= 2 and report.versions_after == ["9.4.16"] * 3
    assert clones["failed"] == 0
