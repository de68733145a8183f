"""Home snapshots, the way back and a newer OS image in the program's graph, under Pulumi's mocks:
what runs before what, and what each touches (the twin plays the same graph over a world:
tests/twin/test_scenarios.py)."""

from __future__ import annotations

import json

import pytest

from components import tags as tagging
from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import APPROVAL, GET_SNAPSHOT_IDS, PROJECTS, VOLUME


def farm_with(**mirror) -> ProgramRun:
    config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0].update(mirror)
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


def named(run: ProgramRun, name: str, typ: str = ""):
    (found,) = [r for r in run.resources if r.name == name and r.custom and r.typ.startswith(typ)]
    return found


@pytest.fixture(scope="module")
def farm() -> ProgramRun:
    return run_program(STACKS / "farm-3.yaml")


def test_the_homes_are_snapshotted_after_the_window_and_before_any_node_stops(farm):
    backup, window = named(farm, "iad-backup"), named(farm, "iad-upgrade")
    assert farm.depends_on(backup, window)
    for i in range(3):
        # Whatever stops or changes a node; a drain stops nothing, and node 0's runs beside the preflights.
        for step in (f"iad-node{i}-stop-for-upgrade", f"iad-node{i}-os-image", f"iad-node{i}-install"):
            assert farm.depends_on(named(farm, step), backup), step
    homes = {h["node"]: h for h in backup.inputs["homes"]}
    assert sorted(homes) == ["iad-node0", "iad-node1", "iad-node2"]
    for i in range(3):
        assert homes[f"iad-node{i}"]["volume_id"] == named(farm, f"iad-node{i}-home", VOLUME).id
        assert homes[f"iad-node{i}"]["tags"] == tagging.snapshot_tags("test", "iad", f"iad-node{i}")
    assert backup.inputs["keep"] == 2 and backup.inputs["enabled"] is True
    assert backup.inputs["generation"] == named(farm, "iad-generation").outputs["generation"]
    assert "restore_from" not in backup.inputs or backup.inputs["restore_from"] is None


def test_without_restore_from_no_home_comes_from_a_snapshot_and_nothing_is_looked_up(farm):
    assert all(not v.inputs.get("snapshotId") for v in farm.of_type(VOLUME))
    assert not [c for c in farm.calls if c.token == GET_SNAPSHOT_IDS]


def test_a_restore_creates_each_home_from_that_nodes_snapshot_of_the_version_and_keeps_the_approval(farm):
    restored = farm_with(bitbucketVersion="9.4.15", restoreFrom="9.4.15")
    lookups = [c.args for c in restored.calls if c.token == GET_SNAPSHOT_IDS]
    assert len(lookups) == 3
    for i, lookup in enumerate(sorted(lookups, key=lambda a: json.dumps(a["filters"]))):
        filters = {f["name"]: f["values"] for f in lookup["filters"]}
        assert filters[f"tag:{tagging.NODE}"] == [f"iad-node{i}"] and filters[f"tag:{tagging.HOLDS}"] == ["9.4.15"]
        assert filters[f"tag:{tagging.SITE}"] == ["iad"] and filters["status"] == ["completed"]
        assert lookup["owners"] == ["self"]
    snapshots = {v.name: v.inputs["snapshotId"] for v in restored.of_type(VOLUME)}
    assert len(set(snapshots.values())) == 3 and all(s.startswith("snap-") for s in snapshots.values())
    # The approval is tied to the zone of node 0's home, which a restore keeps.
    approval = APPROVAL
    assert restored.one(approval).inputs["home_zone"] == farm.one(approval).inputs["home_zone"]
    # No backup of what a restore replaces; the window knows it is a restore.
    assert named(restored, "iad-backup").inputs["restore_from"] == "9.4.15"
    window = named(restored, "iad-upgrade").inputs
    assert window["restore_from"] == "9.4.15" and window["restore_key"] == "mirrors[0].restoreFrom"
    assert window["node_names"] == ["iad-node0", "iad-node1", "iad-node2"]


def test_every_home_detaches_through_the_commands_that_release_it(farm):
    # A restored home replaces its attachment (delete-before-replace): the retire command that
    # reads the attachment's id is replaced first, and its delete unmounts the home.
    for i in range(3):
        retire = named(farm, f"iad-node{i}-retire")
        attachment = named(farm, f"iad-node{i}-home", "aws:ec2/volumeAttachment")
        assert attachment.urn in retire.property_dependencies["triggers"]


@pytest.mark.parametrize("os_image, pinned", [("refresh: 2026-12", False), ("ami-0123456789abcdef0", True)])
def test_an_os_image_moves_each_node_while_it_is_drained_and_before_its_install(os_image, pinned):
    run = farm_with(osImage=os_image)
    for i in range(3):
        refresh, drain = named(run, f"iad-node{i}-os-image"), named(run, f"iad-node{i}-drain")
        assert refresh.inputs["os_image"] == os_image and drain.inputs["os_image"] == os_image
        assert run.depends_on(refresh, drain)
        for step in (f"iad-node{i}-stage", f"iad-node{i}-install"):
            assert run.depends_on(named(run, step), refresh)
        if i:  # never two out: the next node leaves after this one is back
            assert run.depends_on(drain, named(run, f"iad-node{i - 1}-return"))
        instance = named(run, f"iad-node{i}-instance")
        assert refresh.inputs["instance_id"] == instance.id
        assert refresh.inputs["image_id"] == (os_image if pinned else instance.inputs["ami"])
        # The stage and the install run again after the drain (a new root volume lost the staged files).
        assert named(run, f"iad-node{i}-stage").property_dependencies["triggers"] == [drain.urn]


def test_unset_os_image_is_recorded_so_that_setting_it_later_is_a_change(farm):
    for i in range(3):
        assert named(farm, f"iad-node{i}-os-image").inputs["os_image"] == ""
        assert named(farm, f"iad-node{i}-drain").inputs["os_image"] == ""


def test_waits_name_the_config_keys_that_bound_them():
    run = farm_with(syncTimeoutS=14400, approvalTimeoutS=900)
    projects = run.one(PROJECTS).inputs
    assert projects["sync_timeout_s"] == 14400
    assert (
        projects["sync_timeout_key"] == "mirrors[0].syncTimeoutS" and projects["wait_key"] == "mirrors[0].waitForSync"
    )
    approval = run.one(APPROVAL).inputs
    assert approval["timeout_s"] == 900 and approval["timeout_key"] == "mirrors[0].approvalTimeoutS"
