"""Decisions a mutation sample of the providers let through (issue "A house the next engineer can work
in", item 6): each test fails when its line flips."""

from __future__ import annotations

import pytest

from providers import answers, os_refresh, upgrade
from providers.client import BitbucketClient
from providers.errors import AnswerError

from . import test_os_refresh
from .test_os_refresh import NEW_IMAGE, OLD_IMAGE, launched_from, props, provider, task

ec2 = test_os_refresh.ec2  # the Stubber-backed EC2 client fixture


def test_a_page_that_is_not_the_last_and_has_no_next_page_start_is_refused_naming_the_url_and_the_answer(
    monkeypatch,
):
    client = BitbucketClient("https://bitbucket.example.com", "admin", "pw")
    page = answers.Page[dict].model_validate({"values": [{"id": 1}], "start": 0, "isLastPage": False})
    monkeypatch.setattr(client, "get", lambda *args, **kwargs: page)
    with pytest.raises(AnswerError) as refused:
        list(client.iter_paged("/rest/api/latest/projects"))
    said = str(refused.value)
    assert "https://bitbucket.example.com/rest/api/latest/projects" in said
    assert "isLastPage false and no nextPageStart" in said and "a nextPageStart on every page but the last" in said


@pytest.mark.parametrize("nodes", [2, 3])
def test_an_image_change_on_a_farm_is_said_as_progress_never_as_the_single_node_outage(ec2, monkeypatch, nodes):
    launched_from(ec2, OLD_IMAGE)
    said, warned = [], []
    monkeypatch.setattr(os_refresh, "say", said.append)
    monkeypatch.setattr(os_refresh, "warn", lambda text, urn=None: warned.append(text))
    provider().check(props("", nodes=nodes), props("refresh: 2026-12", nodes=nodes))
    assert warned == [] and len(said) == 1 and "unavailable" not in said[0]


def test_the_progress_of_a_root_volume_replacement_comes_every_30_seconds_not_on_every_poll(ec2, monkeypatch):
    from providers import clock

    now = [0.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    monkeypatch.setattr(clock, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    said = []
    monkeypatch.setattr(os_refresh, "say", said.append)
    step = os_refresh.RootVolumeReplacementProvider()
    step.poll_s = 10.0  # in progress at 0, 10, ..., 110 s, then done: progress at 30, 60 and 90 s only
    ec2.add_response("create_replace_root_volume_task", {"ReplaceRootVolumeTask": task("pending")})
    for _ in range(12):
        ec2.add_response("describe_replace_root_volume_tasks", {"ReplaceRootVolumeTasks": [task("in-progress")]})
    ec2.add_response("describe_replace_root_volume_tasks", {"ReplaceRootVolumeTasks": [task("succeeded")]})
    step.update("root", {**props(""), "running_image": OLD_IMAGE}, props("refresh: 2026-12"))
    waiting = [s for s in said if s.startswith("waiting for")]
    assert [w.split("(")[1].split("s;")[0] for w in waiting] == ["30", "60", "90"]
    assert NEW_IMAGE in said[0]


def test_the_upgrade_windows_check_for_a_new_site_contacts_nothing(monkeypatch):
    def contacted(*args, **kwargs):
        raise AssertionError("a new site's window has no mirror to ask yet")

    monkeypatch.setattr(upgrade.UpgradeWindowProvider, "read_installed", contacted)
    monkeypatch.setattr(upgrade.UpgradeWindowProvider, "client", contacted)
    news = {
        "version": "9.4.16",
        "version_key": "mirrors[0].bitbucketVersion",
        "mirror_url": "https://mirror.example.com",
        "farm": True,
    }
    checked = upgrade.UpgradeWindowProvider().check({}, news)
    assert checked.failures == [] and checked.inputs["installed"] == []
