"""The homes' snapshots before an upgrade or a rebuild, and the way back they give, against moto's
EC2 (CreateSnapshot, DescribeSnapshots with tag filters, DeleteSnapshot) and the emulator's mirror
(the versions its nodes run)."""

from __future__ import annotations

import datetime
import itertools

import boto3
import pytest
from moto import mock_aws

from components import tags as tagging
from providers.backup import HomeBackupProvider, snapshots_held
from providers.upgrade import RESTORE, UpgradeWindowProvider

from .conftest import configure

REGION = "eu-west-1"
STACK, SITE = "prod", "dub"
NODES = [f"{SITE}-node{i}" for i in range(3)]


@pytest.fixture
def ec2(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    # moto answers StartTime to the second; real upgrades are hours apart: each snapshot here is a
    # minute after the one before, so "newest" means what it means on AWS.
    import moto.ec2.models.elastic_block_store as ebs

    start, taken = ebs.utcnow(), itertools.count()
    monkeypatch.setattr(ebs, "utcnow", lambda: start + datetime.timedelta(minutes=next(taken)))
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def homes(ec2) -> list[dict]:
    return [
        {
            "node": node,
            "volume_id": ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10)["VolumeId"],
            "tags": tagging.snapshot_tags(STACK, SITE, node),
        }
        for node in NODES
    ]


def props(homes_: list[dict], version: str, generation: str = "g1", **extra) -> dict:
    return {
        "region": REGION,
        "site": SITE,
        "homes": homes_,
        "keys": tagging.SNAPSHOT_KEYS,
        "version": version,
        "generation": generation,
        "keep": 2,
        "enabled": True,
        "restore_from": None,
        **extra,
    }


def site_snapshots(ec2) -> list[dict]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": f"tag:{tagging.SITE}", "Values": [SITE]}])[
        "Snapshots"
    ]


def tags(snapshot: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot["Tags"]}


def test_an_upgrade_snapshots_every_home_tagged_with_the_version_it_holds(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    created = provider.create(props(homes_, "9.4.16"))
    assert created.outs["snapshots"] == {} and site_snapshots(ec2) == []  # a new site holds nothing yet
    result = provider.update(created.id, created.outs, props(homes_, "9.4.17"))
    found = site_snapshots(ec2)
    assert sorted(result.outs["snapshots"]) == NODES and len(found) == 3
    by_node = {tags(s)[tagging.NODE]: s for s in found}
    for home in homes_:
        snapshot = by_node[home["node"]]
        assert snapshot["VolumeId"] == home["volume_id"]
        assert tags(snapshot)[tagging.HOLDS] == "9.4.16"  # what the home held, not where it goes
        assert tags(snapshot)[tagging.GENERATION] == "g1"
        assert tags(snapshot)[tagging.STACK] == STACK
        assert result.outs["snapshots"][home["node"]] == snapshot["SnapshotId"]


def test_homes_replaced_by_new_volumes_are_snapshotted_from_the_volumes_they_replace(ec2):
    # Another KMS key: every home is a new, empty volume; the old ones still exist (the engine deletes
    # replaced resources last) and hold the mirror. A node added in the same `up` has only its new home.
    provider, old_homes = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(old_homes[:2], "9.4.16", "g1")).outs
    new_homes = homes(ec2)
    result = provider.update("b", olds, props(new_homes, "9.4.16", "g2"))
    found = {tags(s)[tagging.NODE]: s for s in site_snapshots(ec2)}
    assert sorted(found) == NODES and sorted(result.outs["snapshots"]) == NODES
    for old in old_homes[:2]:
        assert found[old["node"]]["VolumeId"] == old["volume_id"]  # the home as it was, not the new one
        assert tags(found[old["node"]])[tagging.HOLDS] == "9.4.16"
    assert found[NODES[2]]["VolumeId"] == new_homes[2]["volume_id"]


def test_a_new_home_alone_is_recorded_in_place_and_the_next_upgrade_snapshots_it(ec2):
    # A node added, or a home restored or moved, with the same version and mirror: nothing is
    # snapshotted, but the state follows the homes, so the next upgrade snapshots what they are now.
    provider, first = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(first[:1], "9.4.16")).outs
    scaled = [first[0], *homes(ec2)[1:]]
    assert provider.diff("b", olds, props(scaled, "9.4.16")).changes
    olds = provider.update("b", olds, props(scaled, "9.4.16")).outs
    assert site_snapshots(ec2) == [] and olds["homes"] == scaled
    provider.update("b", olds, props(scaled, "9.4.17"))
    assert sorted(s["VolumeId"] for s in site_snapshots(ec2)) == sorted(h["volume_id"] for h in scaled)


def test_a_recorded_home_that_is_gone_is_snapshotted_as_it_is_now(ec2):
    # A state written before homes were kept up to date may name a volume deleted since (a home
    # restored from a snapshot): the upgrade snapshots the current home instead of failing.
    provider, gone, current = HomeBackupProvider(), homes(ec2), homes(ec2)
    olds = provider.create(props(gone, "9.4.16")).outs
    for home in gone:
        ec2.delete_volume(VolumeId=home["volume_id"])
    provider.update("b", olds, props(current, "9.4.17"))
    assert sorted(s["VolumeId"] for s in site_snapshots(ec2)) == sorted(h["volume_id"] for h in current)


def test_a_rebuild_snapshots_the_homes_it_will_empty(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(homes_, "9.4.16", "g1")).outs
    provider.update("b", olds, props(homes_, "9.4.16", "g2"))
    assert {tags(s)[tagging.GENERATION] for s in site_snapshots(ec2)} == {"g1"} and len(site_snapshots(ec2)) == 3


def test_a_retry_of_the_same_change_takes_no_second_snapshot(ec2):
    # The first run snapshotted and was killed before the engine recorded it: the state still has
    # the old version, so the update runs again with the same olds.
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(homes_, "9.4.16")).outs
    first = provider.update("b", olds, props(homes_, "9.4.17"))
    again = provider.update("b", olds, props(homes_, "9.4.17"))
    assert len(site_snapshots(ec2)) == 3 and again.outs["snapshots"] == first.outs["snapshots"]


def test_only_the_last_keep_snapshots_per_node_stay(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    state = provider.create(props(homes_, "9.4.14")).outs
    taken = []
    for version in ("9.4.15", "9.4.16", "9.4.17"):
        state = provider.update("b", state, props(homes_, version)).outs
        taken.append(state["snapshots"])
    found = site_snapshots(ec2)
    assert len(found) == 6  # 2 per node
    assert {s["SnapshotId"] for s in found} == {s for t in taken[1:] for s in t.values()}  # the oldest went
    assert {tags(s)[tagging.HOLDS] for s in found} == {"9.4.15", "9.4.16"}


@pytest.mark.parametrize(
    "change",
    [
        {"enabled": False},  # mirrors[].backup.enabled: false
        {"restore_from": "9.4.16"},  # a restore replaces the homes from snapshots already
    ],
)
def test_no_snapshot_when_backups_are_off_or_the_change_is_a_restore(ec2, change):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(homes_, "9.4.17")).outs
    provider.update("b", olds, props(homes_, "9.4.16", **change))
    assert site_snapshots(ec2) == []


def test_nothing_but_a_version_or_generation_change_snapshots(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    olds = provider.create(props(homes_, "9.4.16")).outs
    assert provider.diff("b", olds, props(homes_, "9.4.16", keep=5)).changes is False
    assert provider.diff("b", olds, props(homes_, "9.4.17")).changes is True
    provider.update("b", olds, props(homes_, "9.4.16", keep=5))
    assert site_snapshots(ec2) == []


def test_a_destroyed_site_keeps_its_snapshots(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    state = provider.update("b", provider.create(props(homes_, "9.4.16")).outs, props(homes_, "9.4.17")).outs
    provider.delete("b", state)
    assert len(site_snapshots(ec2)) == 3


# --- the way back: the upgrade window's refusal and its restore ------------------------------------
def window_props(emu_mirror, version: str, **extra) -> dict:
    return {
        "mirror_url": emu_mirror.url,
        "version": version,
        "version_key": "mirrors[0].bitbucketVersion",
        "farm": True,
        "clustered": True,
        "nodes": 3,
        "ca_bundle": None,
        "warn_to": None,
        "restore_from": None,
        "restore_key": "mirrors[0].restoreFrom",
        "region": REGION,
        "snapshot_tags": tagging.site_tags(STACK, SITE),
        "snapshot_keys": tagging.SNAPSHOT_KEYS,
        "node_names": NODES,
        **extra,
    }


@pytest.fixture
def farm_at_9_4_17(emu, ec2):
    mirror = emu.add_mirror(SITE, nodes=3, mirror_type="FARM")
    emu.state.tick()
    for node in mirror.farm_nodes:
        node.version = "9.4.17"
    window = configure(UpgradeWindowProvider(), emu)
    return mirror, window


def upgraded_with_snapshots(ec2, nodes=NODES) -> None:
    """What an upgrade 9.4.16 -> 9.4.17 left: each home's snapshot holding 9.4.16."""
    provider = HomeBackupProvider()
    homes_ = [h for h in homes(ec2) if h["node"] in nodes]
    provider.update("b", provider.create(props(homes_, "9.4.16")).outs, props(homes_, "9.4.17"))


def test_a_downgrade_without_restore_from_is_refused_naming_the_key_and_the_snapshots(emu, ec2, farm_at_9_4_17):
    mirror, window = farm_at_9_4_17
    upgraded_with_snapshots(ec2)
    olds = window_props(mirror, "9.4.17", ca_bundle=emu.ca_pem)
    result = window.check(olds, window_props(mirror, "9.4.16", ca_bundle=emu.ca_pem))
    (failure,) = result.failures
    assert failure.property == "version"
    assert "9.4.16 is older than 9.4.17" in failure.reason
    assert "mirrors[0].restoreFrom" in failure.reason
    assert "snapshots exist of 9.4.16 (dub-node0, dub-node1, dub-node2)" in failure.reason


def test_restore_from_the_configured_version_goes_back_all_at_once(emu, ec2, farm_at_9_4_17):
    mirror, window = farm_at_9_4_17
    upgraded_with_snapshots(ec2)
    olds = window_props(mirror, "9.4.17", ca_bundle=emu.ca_pem)
    result = window.check(olds, window_props(mirror, "9.4.16", ca_bundle=emu.ca_pem, restore_from="9.4.16"))
    assert result.failures == []
    assert "all nodes at once" in result.inputs["impact"] and "mirrors[0].restoreFrom" in result.inputs["impact"]
    assert window.update("w", olds, result.inputs).outs["kind"] == RESTORE


def test_a_restore_is_refused_when_a_node_has_no_snapshot_of_the_version(emu, ec2, farm_at_9_4_17):
    mirror, window = farm_at_9_4_17
    upgraded_with_snapshots(ec2, nodes=NODES[:2])  # node2 joined after the upgrade
    olds = window_props(mirror, "9.4.17", ca_bundle=emu.ca_pem)
    (failure,) = window.check(
        olds, window_props(mirror, "9.4.16", ca_bundle=emu.ca_pem, restore_from="9.4.16")
    ).failures
    assert failure.property == "restore_from"
    assert "no snapshot of 9.4.16 for dub-node2" in failure.reason


def test_restore_from_a_version_not_older_than_the_nodes_is_refused(emu, ec2, farm_at_9_4_17):
    mirror, window = farm_at_9_4_17
    olds = window_props(mirror, "9.4.17", ca_bundle=emu.ca_pem)
    (failure,) = window.check(
        olds, window_props(mirror, "9.4.18", ca_bundle=emu.ca_pem, restore_from="9.4.18")
    ).failures
    assert failure.property == "restore_from" and "is a way back" in failure.reason


def test_snapshots_held_lists_the_newest_per_version_and_node(ec2):
    provider, homes_ = HomeBackupProvider(), homes(ec2)
    state = provider.create(props(homes_, "9.4.15")).outs
    state = provider.update("b", state, props(homes_, "9.4.16")).outs
    state = provider.update("b", state, props(homes_, "9.4.17")).outs
    held = snapshots_held(REGION, tagging.site_tags(STACK, SITE), tagging.SNAPSHOT_KEYS)
    assert sorted(held) == ["9.4.15", "9.4.16"] and all(sorted(n) == NODES for n in held.values())
    assert held["9.4.16"] == state["snapshots"]
