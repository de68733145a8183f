"""MirroredProjects against the emulated primary and an approved mirror, over HTTPS."""

from __future__ import annotations

import pytest

from providers.base import UNKNOWN
from providers.mirrored_projects import SyncTimeout, UnknownProjects
from twin.emulator import Faults

from .conftest import approved_mirror

BULK_ADD = "/rest/mirroring/latest/syncSettings/projects"


def props(emu, mirror, **over):
    return {
        "primary_url": emu.primary_url,
        "mirror_url": mirror.url,
        "mirror_id": mirror.mirror_id,
        "project_keys": ["PLAT", "OPS"],
        "mirror_all": False,
        "wait_for_sync": False,
        "sync_timeout_s": 10,
        "ca_bundle": emu.ca_pem,
        **over,
    }


@pytest.fixture
def world(emu):
    ids = {key: emu.add_project(key, repos=3) for key in ("PLAT", "OPS", "DOCS", "WEB")}
    return ids, approved_mirror(emu)


def test_create_mirrors_exactly_the_chosen_projects(emu, projects, world):
    ids, mirror = world
    emu.clear_log()
    result = projects.create(props(emu, mirror))
    assert mirror.project_ids == {ids["PLAT"], ids["OPS"]}
    assert mirror.mode == "SELECTED_PROJECTS"
    assert result.outs["project_keys"] == ["OPS", "PLAT"]
    assert result.outs["project_ids"] == sorted([str(ids["PLAT"]), str(ids["OPS"])], key=int)
    # Keys resolve through the listing, never one call per key; one bulk add.
    assert not any(r.path.startswith("/rest/api/latest/projects/") for r in emu.log)
    assert emu.stats.successful("POST", BULK_ADD) == 1


def test_unknown_keys_are_named_together_and_nothing_changes(emu, projects, world):
    _, mirror = world
    with pytest.raises(UnknownProjects) as caught:
        projects.create(props(emu, mirror, project_keys=["PLAT", "NOPE", "GONE"]))
    assert "GONE, NOPE" in str(caught.value) and "nothing was changed" in str(caught.value)
    assert mirror.project_ids == set()
    assert not any(r.method in ("POST", "PUT", "DELETE") for r in emu.log if r.server == "syd")


def test_selecting_projects_on_a_mirror_of_all_projects_is_refused_as_irreversible(emu, projects, world):
    from providers.errors import IrreversibleChange, ProviderError

    _, mirror = world
    created = projects.create(props(emu, mirror, project_keys=[], mirror_all=True))
    assert mirror.mode == "ALL_PROJECTS"
    with pytest.raises(IrreversibleChange) as caught:
        projects.update(created.id, created.outs, props(emu, mirror))
    assert isinstance(caught.value, ProviderError) and not isinstance(caught.value, UnknownProjects)
    assert "cannot be undone" in str(caught.value) and "new mirror" in str(caught.value)
    assert mirror.mode == "ALL_PROJECTS" and mirror.project_ids == set()


def test_update_adds_the_missing_and_removes_the_extra(emu, projects, world):
    ids, mirror = world
    created = projects.create(props(emu, mirror))
    news = props(emu, mirror, project_keys=["OPS", "DOCS", "WEB"])
    assert projects.diff(created.id, created.outs, news).replaces == []
    updated = projects.update(created.id, created.outs, news)
    assert mirror.project_ids == {ids["OPS"], ids["DOCS"], ids["WEB"]}
    assert updated.outs["project_keys"] == ["DOCS", "OPS", "WEB"]


def test_adopts_a_partly_added_selection(emu, projects, world):
    ids, mirror = world
    mirror.project_ids = {ids["PLAT"], ids["WEB"]}  # a crashed earlier run, or a hand-made selection
    result = projects.create(props(emu, mirror))
    assert mirror.project_ids == {ids["PLAT"], ids["OPS"]}
    assert result.outs["project_keys"] == ["OPS", "PLAT"]


def test_read_shows_drift_made_behind_its_back(emu, projects, world):
    ids, mirror = world
    created = projects.create(props(emu, mirror))
    mirror.project_ids = {ids["PLAT"], ids["DOCS"]}
    read = projects.read(created.id, created.outs)
    assert read.outs["project_keys"] == ["DOCS", "PLAT"] and read.outs["mirror_all"] is False
    # The next `up` sees the difference from the configured keys and puts it back.
    assert projects.diff(created.id, read.outs, props(emu, mirror)).changes is True
    mirror.mode = "ALL_PROJECTS"
    assert projects.read(created.id, created.outs).outs["mirror_all"] is True


def test_read_of_a_removed_mirror_reports_it_gone(emu, projects, world):
    _, mirror = world
    created = projects.create(props(emu, mirror))
    emu.remove_mirror_server(mirror.mirror_id)
    assert not projects.read(created.id, created.outs).id


def test_mirror_all_sets_the_mode_and_cannot_be_undone_in_place(emu, projects, world):
    _, mirror = world
    created = projects.create(props(emu, mirror, project_keys=[], mirror_all=True))
    assert mirror.mode == "ALL_PROJECTS" and created.outs["mirror_all"] is True
    diff = projects.diff(created.id, created.outs, props(emu, mirror))
    assert "mirror_all" in diff.replaces
    projects.delete(created.id, created.outs)
    assert mirror.mode == "ALL_PROJECTS"  # nothing to undo; removing the mirror ends it


def test_diff_replaces_on_a_new_mirror_and_tolerates_unknowns(emu, projects, world):
    _, mirror = world
    old = props(emu, mirror, project_keys=["OPS", "PLAT"])
    assert projects.diff("x", old, {**old, "project_keys": ["plat", "ops"]}).changes is False
    assert projects.diff("x", old, {**old, "mirror_id": UNKNOWN}).replaces == ["mirror_id"]
    assert projects.diff("x", old, {**old, "mirror_url": "https://other.example.com"}).replaces == ["mirror_url"]
    unknown_keys = projects.diff("x", old, {**old, "project_keys": UNKNOWN})
    assert unknown_keys.changes and unknown_keys.replaces == []


def test_check_validates_keys_and_exclusive_options(projects):
    result = projects.check(
        {},
        {
            "project_keys": ["ok", "1bad", "no-dash"],
            "mirror_all": False,
            "primary_url": "https://p.example.com",
            "mirror_url": "https://m.example.com",
        },
    )
    assert [f.property for f in result.failures] == ["project_keys"]
    assert "1bad" in result.failures[0].reason and "no-dash" in result.failures[0].reason
    both = projects.check(
        {},
        {
            "project_keys": ["OK"],
            "mirror_all": True,
            "primary_url": "https://p.example.com",
            "mirror_url": "https://m.example.com",
        },
    )
    assert [f.property for f in both.failures] == ["mirror_all"]
    normalised = projects.check(
        {},
        {"project_keys": ["plat", "PLAT", "ops"], "mirror_all": False, "primary_url": UNKNOWN, "mirror_url": UNKNOWN},
    )
    assert normalised.failures == [] and normalised.inputs["project_keys"] == ["OPS", "PLAT"]


def test_delete_stops_mirroring_the_projects_it_added(emu, projects, world):
    ids, mirror = world
    created = projects.create(props(emu, mirror))
    projects.delete(created.id, created.outs)
    assert mirror.project_ids == set()
    emu.remove_mirror_server(mirror.mirror_id)
    projects.delete(created.id, created.outs)  # the mirror has no upstream any more: nothing to do


def test_wait_for_sync_waits_for_every_repository(emu, projects, world):
    _, mirror = world
    emu.state.sync_repos_per_s = 20
    projects.create(props(emu, mirror, wait_for_sync=True))
    progress = [r for r in emu.log if r.path == "/rest/mirroring/latest/progress"]
    assert len(progress) >= 2, "it polled until the six repositories were synchronised"
    assert emu.state.progress(mirror)["syncedRepos"] == 6


def test_wait_for_sync_times_out_with_advice(emu, projects, world):
    _, mirror = world
    emu.state.sync_repos_per_s = 0.01
    with pytest.raises(SyncTimeout) as caught:
        projects.create(
            props(
                emu,
                mirror,
                wait_for_sync=True,
                sync_timeout_s=0.3,
                sync_timeout_key="mirrors[2].syncTimeoutS",
                wait_key="mirrors[2].waitForSync",
            )
        )
    message = str(caught.value)
    # The keys a user writes, never the provider's input names.
    assert "synchronised 0 of 6" in message and "raise mirrors[2].syncTimeoutS" in message
    assert "mirrors[2].waitForSync: false" in message and "sync_timeout_s" not in message


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_converges_under_faults(emu, projects, world, seed):
    ids, mirror = world
    emu.set_faults(Faults(rate=0.2, kinds=("503", "502", "429", "drop", "drop_after"), retry_after_s=1, seed=seed))
    created = projects.create(props(emu, mirror))
    updated = projects.update(created.id, created.outs, props(emu, mirror, project_keys=["WEB"]))
    read = projects.read(created.id, updated.outs)
    emu.set_faults(Faults())
    assert mirror.project_ids == {ids["WEB"]}
    assert read.outs["project_keys"] == ["WEB"]


@pytest.mark.parametrize("unavailable_for", ["one_less", "all"])
def test_selecting_projects_tries_the_bulk_add_exactly_bulk_attempts_times(emu, projects, world, unavailable_for):
    from providers.errors import ServerUnavailable

    from .hostile import Hostile, answer

    ids, mirror = world
    # Five tries (MirroredProjectsProvider.bulk_attempts): a mirror that refuses four in a row while
    # it restarts still gets its projects; one that refuses all five fails the `up`, saying why.
    attempts = 5
    failing = attempts - 1 if unavailable_for == "one_less" else attempts
    refused = []

    def briefly_unavailable(seen):
        if seen.method == "POST" and seen.path == BULK_ADD and len(refused) < failing:
            refused.append(seen)
            return answer({"errors": [{"message": "restarting"}]}, 503)
        return None  # everything else reaches the emulated mirror

    with Hostile(briefly_unavailable, mirror.url, emu.ca_file) as front:

        def run():
            return projects.create(props(emu, mirror, mirror_url=front.url, ca_bundle=front.ca_pem + emu.ca_pem))

        if unavailable_for == "one_less":
            assert run().outs["project_keys"] == ["OPS", "PLAT"]
            assert mirror.project_ids == {ids["PLAT"], ids["OPS"]}
        else:
            with pytest.raises(ServerUnavailable, match="restarting"):
                run()
            assert mirror.project_ids == set()
        # A POST is never replayed by the client: every attempt is the provider's own.
        assert len(front.requests_to(BULK_ADD, "POST")) == attempts
