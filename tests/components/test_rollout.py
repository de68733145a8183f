"""The rollout graph of the real program: what the engine will order, node by node."""

from __future__ import annotations

import json

import pytest

from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import DYNAMIC, VOLUME

DYN = DYNAMIC


@pytest.fixture(scope="module")
def farm() -> ProgramRun:
    return run_program(STACKS / "farm-3.yaml")


def named(run: ProgramRun, name: str):
    (found,) = [r for r in run.resources if r.name == name and r.custom]
    return found


def test_nodes_leave_change_and_return_strictly_one_after_another(farm):
    window = named(farm, "iad-upgrade")
    for i in range(3):
        drain, ret = named(farm, f"iad-node{i}-drain"), named(farm, f"iad-node{i}-return")
        stage, install = named(farm, f"iad-node{i}-stage"), named(farm, f"iad-node{i}-install")
        assert farm.depends_on(stage, drain) and farm.depends_on(install, drain)
        assert farm.depends_on(ret, install)
        # What changes the node waits for every node's preflight, the window and the backup ...
        for step in (stage, install, named(farm, f"iad-node{i}-os-image")):
            assert farm.depends_on(step, window) and farm.depends_on(step, named(farm, "iad-backup"))
        for k in range(3):
            assert farm.depends_on(drain, named(farm, f"iad-node{k}-start-return"))  # after every instance step
        if i:
            assert farm.depends_on(drain, named(farm, f"iad-node{i - 1}-return"))  # never two out at once
    # ... but the first node's drain does not: it leaves while the preflights run (issue #29).
    assert not farm.depends_on(named(farm, "iad-node0-drain"), window)
    for i in range(3):
        drain, install = named(farm, f"iad-node{i}-drain"), named(farm, f"iad-node{i}-install")
        # The drain re-runs when the install will: the later nodes' carry the install's digest ...
        assert (drain.inputs["install_digest"] == install.inputs["triggers"][0]) is (i > 0)
        assert [g["port"] for g in drain.inputs["target_groups"]] == [7990, 7999]
    # ... node 0's, which runs beside the preflights, does not wait for the sha256 they agree on.
    assert not farm.depends_on(named(farm, "iad-node0-drain"), named(farm, "iad-archive-trust"))
    assert farm.depends_on(named(farm, "iad-node1-drain"), named(farm, "iad-archive-trust"))
    upgraded = _farm_with(bitbucketVersion="9.4.17")
    assert all(
        named(upgraded, f"iad-node{i}-drain").inputs["install_digest"]
        != named(farm, f"iad-node{i}-drain").inputs["install_digest"]
        for i in range(3)
    )
    finish = named(farm, "iad-upgrade-finish")
    assert farm.depends_on(finish, named(farm, "iad-node2-return"))
    assert window.inputs["version_key"] == "mirrors[0].bitbucketVersion" and window.inputs["farm"] is True


def test_a_removed_node_drains_then_stops_before_its_instance_goes(farm):
    # The engine deletes dependents first: drain (deregister, wait drained), then retire (stop
    # Bitbucket), then the attachments and the instance.
    for i in range(3):
        drain, retire = named(farm, f"iad-node{i}-drain"), named(farm, f"iad-node{i}-retire")
        assert retire.inputs["delete"].startswith("sudo systemctl stop atlbitbucket")
        assert retire.inputs["delete"].endswith("sudo umount /var/atlassian/application-data/bitbucket; fi")
        assert farm.depends_on(drain, retire)
        for label in ("https", "ssh"):
            assert farm.depends_on(drain, named(farm, f"iad-{label}-node{i}"))
        assert farm.depends_on(retire, named(farm, f"iad-node{i}-instance"))


def _farm_at(version: str) -> ProgramRun:
    config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0]["bitbucketVersion"] = version
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


def test_a_minor_upgrade_stops_every_node_once_the_first_is_drained_and_a_bug_fix_stops_none(farm):
    stops = {i: named(farm, f"iad-node{i}-stop-for-upgrade") for i in range(3)}
    drain0 = named(farm, "iad-node0-drain")
    for stop in stops.values():
        # The install script decides on the node: another minor line or another mirror stops it.
        assert stop.inputs["create"].startswith("sudo bash -s -- --stop-for-upgrade ")
        assert "VERSION=9.4.16" in stop.inputs["stdin"]
        assert stop.inputs["update"] == "true"  # a new connection stops nothing
        assert farm.depends_on(stop, drain0)  # node 0 drained while the others still serve
        assert farm.depends_on(named(farm, "iad-node0-stage"), stop)
    bugfix, minor = _farm_at("9.4.17"), _farm_at("9.5.0")
    before = {i: s.inputs["triggers"] for i, s in stops.items()}
    assert {i: named(bugfix, f"iad-node{i}-stop-for-upgrade").inputs["triggers"] for i in range(3)} == before
    assert all(named(minor, f"iad-node{i}-stop-for-upgrade").inputs["triggers"][0] == "9.5" for i in range(3))


def test_node0s_drain_digest_is_the_same_whatever_the_node_count_and_without_a_balancer_the_installs():
    # Scaling across one node touches no serving node: node 0's drain does not change with the count.
    config, secret_keys = stack_file_config(STACKS / "single-acm.yaml")
    one = run_program(config=config, secret_keys=secret_keys)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0]["nodes"] = 2
    two = run_program(config={**config, "bitbucket-mirrors:mirrors": json.dumps(mirrors)}, secret_keys=secret_keys)
    digest = named(one, "fra-node0-drain").inputs["install_digest"]
    assert named(two, "fra-node0-drain").inputs["install_digest"] == digest
    # With nginx nothing is drained: the drain keeps the install's digest.
    nginx = run_program(STACKS / "single-nginx.yaml")
    assert (
        named(nginx, "syd-node0-drain").inputs["install_digest"]
        == named(nginx, "syd-node0-install").inputs["triggers"][0]
    )


def test_a_single_nginx_node_has_no_load_balancer_to_drain():
    run = run_program(STACKS / "single-nginx.yaml")
    # The same steps, with no targets: they only say at preview what a change costs.
    for step in ("drain", "return"):
        assert named(run, f"syd-node0-{step}").inputs["target_groups"] == []
    assert not run.of_type(DYN + "UpgradeFinish")
    assert run.depends_on(named(run, "syd-node0-stage"), named(run, "syd-upgrade"))
    assert named(run, "syd-upgrade").inputs["farm"] is False


def _farm_with(**changes) -> ProgramRun:
    config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0].update(changes)
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


def test_every_node_checks_the_target_versions_runtime_before_any_node_is_stopped(farm):
    window = named(farm, "iad-upgrade")
    for i in range(3):
        check = named(farm, f"iad-node{i}-preflight")
        assert farm.depends_on(window, check)
        assert farm.depends_on(named(farm, f"iad-node{i}-stop-for-upgrade"), check)
        assert check.inputs["create"] == "sudo bash -s -- --preflight"
        script = check.inputs["stdin"]
        assert "VERSION=9.4.16" in script and "JAVA_MAJOR=17" in script and "GIT_MIN=2.31.0" in script
        assert check.inputs["triggers"] == ["9.4.16"]
    # A new version runs every check again, with that version's floors.
    upgraded = _farm_with(bitbucketVersion="9.5.0")
    for i in range(3):
        check = named(upgraded, f"iad-node{i}-preflight")
        assert check.inputs["triggers"] == ["9.5.0"] and "VERSION=9.5.0" in check.inputs["stdin"]


def test_a_nodes_instance_changes_inside_its_one_drain_before_its_os_image_and_install(farm):
    """Issue #28 item 3: NodeDrain(i) -> InstanceModification(i) -> RootVolumeReplacement(i) ->
    install(i) -> NodeReturn(i); the next node's drain after this node's return."""
    for i in range(3):
        drain, change = named(farm, f"iad-node{i}-drain"), named(farm, f"iad-node{i}-instance-change")
        refresh, install = named(farm, f"iad-node{i}-os-image"), named(farm, f"iad-node{i}-install")
        instance = named(farm, f"iad-node{i}-instance")
        assert farm.depends_on(change, drain) and farm.depends_on(change, named(farm, "iad-backup"))
        assert farm.depends_on(refresh, change) and farm.depends_on(install, change)
        assert change.inputs["instance_id"] == instance.id
        assert change.inputs["instance_type"] == instance.inputs["instanceType"] == drain.inputs["instance_type"]
        # What EC2's user data is compared with is the digest of what the instance boots with.
        assert change.inputs["user_data"] == instance.inputs["userData"]
        assert change.inputs["user_data_digest"] == drain.inputs["user_data_digest"]
        # Every node's preflight runs before the first drain: none waits for an instance change.
        for k in range(3):
            assert not farm.depends_on(named(farm, f"iad-node{k}-preflight"), change)


def test_an_instance_type_change_drains_each_node_once_and_installs_nothing(farm):
    bigger = _farm_with(instanceType="m6i.4xlarge")
    before = {r.urn: r.inputs for r in farm.resources}
    changed = {r.name for r in bigger.resources if before.get(r.urn) != r.inputs}
    # The instance's new type is ignored by the engine (ignore_changes): its InstanceModification
    # makes it, inside the node's drain; the steps around the instance only record it.
    steps = ("instance", "stop-drain", "start-return", "drain", "instance-change", "return")
    assert changed == {f"iad-node{i}-{step}" for i in range(3) for step in steps}
    for i in range(3):
        assert named(bigger, f"iad-node{i}-instance-change").inputs["instance_type"] == "m6i.4xlarge"


def test_a_larger_home_grows_each_filesystem_online_and_touches_nothing_else(farm):
    larger = _farm_with(homeVolumeGb=500)
    before = {r.urn: r.inputs for r in farm.resources}
    changed = {r.name for r in larger.resources if before.get(r.urn) != r.inputs}
    assert changed == {f"iad-node{i}-{step}" for i in range(3) for step in ("home", "grow-home")}
    for i in range(3):
        grow = named(larger, f"iad-node{i}-grow-home")
        (home,) = [r for r in larger.resources if r.name == f"iad-node{i}-home" and r.typ == VOLUME]
        assert home.inputs["size"] == 500
        assert grow.inputs["create"] == "sudo xfs_growfs /var/atlassian/application-data/bitbucket"
        assert grow.inputs["triggers"] == [500]
        assert larger.depends_on(grow, home) and larger.depends_on(grow, named(larger, f"iad-node{i}-install"))


def test_every_node_verifies_its_download_at_once_and_every_install_gets_the_recorded_sha256(farm):
    trust = named(farm, "iad-archive-trust")
    assert trust.inputs["version"] == "9.4.16" and trust.inputs["site"] == "iad"
    # Every node reports what it verified, by node name: the trust compares them all.
    assert set(trust.inputs["reports"]) == {f"iad-node{i}" for i in range(3)}
    trusted = trust.outputs["sha256"]
    assert len(trusted) == 64
    for i in range(3):
        check = named(farm, f"iad-node{i}-preflight")
        # Each verifies against the configured sha256 or the vendor's MD5, waiting for no other node
        # (issue #29: a new farm's preflights run together) ...
        assert farm.depends_on(trust, check) and "TRUSTED_SHA256=''" in check.inputs["stdin"]
        assert not farm.depends_on(check, trust)
        assert not any(farm.depends_on(check, named(farm, f"iad-node{k}-preflight")) for k in range(3) if k != i)
        # ... and every stop and install must use exactly the bytes the trust recorded.
        assert farm.depends_on(named(farm, f"iad-node{i}-install"), trust)
        assert f"TRUSTED_SHA256={trusted}" in named(farm, f"iad-node{i}-stop-for-upgrade").inputs["stdin"]
    # The window waits for every check and the trust: no node stops before every download agreed.
    window = named(farm, "iad-upgrade")
    assert farm.depends_on(window, trust)
    assert all(farm.depends_on(window, named(farm, f"iad-node{i}-preflight")) for i in range(3))
