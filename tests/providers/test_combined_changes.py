"""Scaling a farm in together with a version change or a rebuild is refused at preview, naming the keys
and the order to do them in (issue #28 item 2): the engine deletes the leaving nodes after every update
of the `up`, so they would still run the old version (or serve the old mirror) in the farm while the
staying nodes change, and the first changed node could never join them. The farm here is the
emulator's, read through the base URL as the window reads it."""

from __future__ import annotations

from typing import Any

import pytest

from providers.upgrade import UpgradeWindowProvider

OLD, BUGFIX, MINOR = "9.4.16", "9.4.17", "9.5.0"


@pytest.fixture
def farm3(emu):
    mirror = emu.add_mirror("iad", nodes=3, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    return mirror


def props(emu, mirror, version: str, nodes: int, generation: str = "g1") -> dict[str, Any]:
    return {
        "mirror_url": mirror.url,
        "version": version,
        "version_key": "mirrors[0].bitbucketVersion",
        "farm": nodes > 1,
        "clustered": True,
        "nodes": nodes,
        "ca_bundle": emu.ca_pem,
        "generation": generation,
    }


@pytest.mark.parametrize("version", [BUGFIX, MINOR])
@pytest.mark.parametrize("nodes", [1, 2])
def test_scaling_in_with_an_upgrade_is_refused_naming_both_keys_and_the_order(emu, make, farm3, version, nodes):
    window = make(UpgradeWindowProvider)
    result = window.check(props(emu, farm3, OLD, 3), props(emu, farm3, version, nodes))
    (failure,) = result.failures
    assert failure.property == "nodes"
    assert f"mirrors[0].nodes: 3 -> {nodes} together with mirrors[0].bitbucketVersion: {OLD} -> {version}" in (
        failure.reason
    )
    assert (
        f"first mirrors[0].nodes: {nodes} with mirrors[0].bitbucketVersion left at {OLD}, "
        f"then mirrors[0].bitbucketVersion: {version}"
    ) in failure.reason


@pytest.mark.parametrize("nodes", [1, 2])
def test_scaling_in_with_a_rebuild_is_refused_naming_the_order(emu, make, farm3, nodes):
    window = make(UpgradeWindowProvider)
    for new_generation in ("g2", None):  # known in the up; at preview a replaced generation may be unknown
        news = props(emu, farm3, OLD, nodes, generation=new_generation)
        (failure,) = window.check(props(emu, farm3, OLD, 3), news).failures
        assert f"mirrors[0].nodes: 3 -> {nodes} together with a rebuild as a new mirror" in failure.reason
        assert f"first mirrors[0].nodes: {nodes} with the rest as it was, then the rebuild" in failure.reason


@pytest.mark.parametrize(
    "nodes, version, generation",
    [
        (1, OLD, "g1"),  # scaling in alone
        (2, OLD, "g1"),
        (3, BUGFIX, "g1"),  # an upgrade alone
        (3, OLD, "g2"),  # a rebuild alone
        (4, BUGFIX, "g1"),  # scaling out with an upgrade: the new nodes install the new version
        (4, OLD, "g2"),
    ],
)
def test_each_change_alone_and_scaling_out_with_one_go_ahead(emu, make, farm3, nodes, version, generation):
    window = make(UpgradeWindowProvider)
    result = window.check(props(emu, farm3, OLD, 3), props(emu, farm3, version, nodes, generation))
    assert result.failures == []


def test_a_state_from_before_the_window_carried_the_generation_is_never_refused(emu, make, farm3):
    olds = props(emu, farm3, OLD, 3)
    del olds["generation"]
    assert make(UpgradeWindowProvider).check(olds, props(emu, farm3, OLD, 1, "g2")).failures == []


def test_a_single_node_growing_to_a_farm_with_a_bug_fix_upgrade_warns_of_the_outage(emu, make, capsys):
    mirror = emu.add_mirror("fra", nodes=1, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    window = make(UpgradeWindowProvider)
    news = {**props(emu, mirror, BUGFIX, 2), "warn_to": "urn:pulumi:dev::bitbucket-mirrors::site::fra"}
    assert window.check(props(emu, mirror, OLD, 1), news).failures == []
    err = capsys.readouterr().err
    assert (
        f"warning: mirrors[0].bitbucketVersion: {OLD} -> {BUGFIX} together with mirrors[0].nodes: 1 -> 2: the one "
        "node serving now upgrades before the new nodes serve; the mirror is unavailable"
    ) in err


def test_a_farm_upgrading_with_more_nodes_than_one_serving_rolls_without_a_warning(emu, make, farm3, capsys):
    window = make(UpgradeWindowProvider)
    assert window.check(props(emu, farm3, OLD, 3), props(emu, farm3, BUGFIX, 4)).failures == []
    err = capsys.readouterr().err
    assert "warning:" not in err and "keeps serving" in err
