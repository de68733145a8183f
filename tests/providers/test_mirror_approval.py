"""MirrorApproval against the emulated primary and mirrors over HTTPS."""

from __future__ import annotations

import threading

import pytest

from providers.base import UNKNOWN
from providers.mirror_approval import ApprovalTimeout, MirrorApprovalProvider
from twin.emulator import Faults

from .conftest import approved_mirror

ACCEPT = "/rest/mirroring/latest/requests/{id}/accept"


def props(emu, base_url, **over):
    return {
        "primary_url": emu.primary_url,
        "base_url": base_url,
        "timeout_s": 10,
        "ca_bundle": emu.ca_pem,
        "expected_type": "SINGLE",
        **over,
    }


def test_waits_for_the_request_then_accepts_it(emu, approval):
    mirror = emu.add_mirror("syd", register_after_s=0.3)
    result = approval.create(props(emu, mirror.url))
    assert result.id == mirror.mirror_id
    assert result.outs["mirror_name"] == "syd" and result.outs["mirror_type"] == "SINGLE"
    assert emu.state.requests[mirror.request_id]["state"] == "ACCEPTED"
    assert mirror.upstream_state == "INSTALLED"
    assert emu.stats.successful("POST", ACCEPT) == 1


def test_base_url_matches_regardless_of_case_and_trailing_slash(emu, approval):
    mirror = emu.add_mirror("syd", register_after_s=0.2)
    port = mirror.url.rsplit(":", 1)[1]
    mirror.base_url = f"https://LocalHost:{port}/"  # what its request will carry
    assert approval.create(props(emu, f"https://localhost:{port}")).id == mirror.mirror_id


def test_adopts_an_already_accepted_mirror(emu, approval):
    mirror = approved_mirror(emu)
    result = approval.create(props(emu, mirror.url))
    assert result.id == mirror.mirror_id
    assert emu.stats.successful("POST", ACCEPT) == 0
    assert not any(r.method == "POST" for r in emu.log)


def test_never_accepts_a_request_from_another_base_url(emu, approval):
    intruder = emu.add_mirror("rogue", base_url="https://rogue.example.com")
    mine = emu.add_mirror("syd", register_after_s=0.4)
    result = approval.create(props(emu, mine.url))
    assert result.id == mine.mirror_id
    assert emu.state.requests[intruder.request_id]["state"] == "PENDING"
    assert intruder.mirror_id not in emu.state.mirror_servers


def test_timeout_says_what_it_saw_and_accepts_nothing(emu, approval):
    emu.add_mirror("rogue", base_url="https://rogue.example.com")
    mirror = emu.add_mirror("syd", register_after_s=3600)  # answers, never registers in time
    with pytest.raises(ApprovalTimeout) as caught:
        approval.create(props(emu, mirror.url, timeout_s=2, timeout_key="mirrors[1].approvalTimeoutS"))
    message = str(caught.value)
    assert f"no mirroring request from {mirror.url} appeared" in message and "nothing was accepted" in message
    assert "raise mirrors[1].approvalTimeoutS" in message
    assert "https://rogue.example.com" in message and "setup.baseUrl" in message
    assert emu.state.mirror_servers == {}


def test_read_sees_a_mirror_removed_behind_its_back(emu, approval):
    mirror = emu.add_mirror("syd")
    created = approval.create(props(emu, mirror.url))
    assert approval.read(created.id, created.outs).id == mirror.mirror_id
    emu.remove_mirror_server(mirror.mirror_id)
    gone = approval.read(created.id, created.outs)
    assert not gone.id


def test_delete_removes_the_mirror_from_the_primary_and_is_idempotent(emu, approval):
    mirror = emu.add_mirror("syd")
    created = approval.create(props(emu, mirror.url))
    approval.delete(created.id, created.outs)
    assert emu.state.mirror_servers == {} and mirror.upstream_state == "REMOVED"
    approval.delete(created.id, created.outs)  # already gone: still a success


def test_diff_replaces_on_url_changes_only(emu, approval):
    old = props(emu, "https://mirror-syd.example.com")
    assert approval.diff("x", old, {**old, "base_url": "https://MIRROR-SYD.example.com/"}).changes is False
    assert approval.diff("x", old, {**old, "base_url": "https://mirror-mel.example.com"}).replaces == ["base_url"]
    assert approval.diff("x", old, {**old, "primary_url": UNKNOWN}).replaces == ["primary_url"]
    diff = approval.diff("x", old, {**old, "timeout_s": 60})
    assert diff.changes and diff.replaces == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_converges_under_faults_with_exactly_one_accept(emu, approval, seed):
    mirror = emu.add_mirror("syd", register_after_s=0.2)
    emu.set_faults(Faults(rate=0.2, kinds=("503", "502", "429", "drop", "drop_after"), retry_after_s=1, seed=seed))
    result = approval.create(props(emu, mirror.url, timeout_s=30))
    emu.set_faults(Faults())
    assert result.id == mirror.mirror_id
    assert emu.stats.successful("POST", ACCEPT) == 1
    assert approval.read(result.id, result.outs).id == mirror.mirror_id
    approval.delete(result.id, result.outs)
    assert emu.state.mirror_servers == {}


def test_adopts_a_mirror_an_admin_approved_while_it_waited(emu, approval):
    mirror = emu.add_mirror("syd", register_after_s=60)

    def admin_clicks_authorize():
        emu.state.register(mirror)
        emu.state.accept(mirror.request_id)

    threading.Timer(0.3, admin_clicks_authorize).start()
    result = approval.create(props(emu, mirror.url))
    assert result.id == mirror.mirror_id
    assert not any(r.method == "POST" for r in emu.log), "the admin's approval was adopted, not repeated"


def test_waiting_costs_one_request_per_poll(emu, approval):
    mirror = emu.add_mirror("syd", register_after_s=1.0)
    approval.poll_interval_s = 0.1
    approval.create(props(emu, mirror.url))
    (accept,) = [r for r in emu.log if r.method == "POST"]
    waiting = [r for r in emu.requests_to("primary") if r.ts < accept.ts]
    rounds = [r for r in waiting if r.path == "/rest/mirroring/latest/requests"]
    assert len(waiting) == len(rounds) + 1, "one request a round: approved mirrors are read once, at the start"
    # The mirror is asked who it is once: its Server ID, once known, is known for good.
    assert [r.path for r in emu.requests_to("syd")] == ["/rest/api/latest/admin/license"]


def test_update_of_a_mirror_removed_behind_its_back_says_what_to_do(emu, approval):
    from providers.mirror_approval import MirrorGone

    mirror = emu.add_mirror("syd")
    created = approval.create(props(emu, mirror.url))
    emu.remove_mirror_server(mirror.mirror_id)
    with pytest.raises(MirrorGone, match="pulumi refresh"):
        approval.update(created.id, created.outs, {**created.outs, "timeout_s": 60})


def test_update_keeps_the_mirror_and_takes_new_settings(emu, approval):
    mirror = emu.add_mirror("syd")
    created = approval.create(props(emu, mirror.url))
    updated = approval.update(created.id, created.outs, {**created.outs, "timeout_s": 60})
    assert updated.outs["mirror_id"] == mirror.mirror_id and updated.outs["timeout_s"] == 60
    assert emu.stats.successful("POST", ACCEPT) == 1


def test_a_new_home_for_the_first_node_is_a_new_mirror_to_approve(approval):
    olds = {
        "primary_url": "https://p.example.com",
        "base_url": "https://m.example.com",
        "timeout_s": 60,
        "home_zone": "ap-southeast-2a",
    }
    same = approval.diff("id", olds, dict(olds))
    assert same.changes is False and same.replaces == []
    moved = approval.diff("id", olds, {**olds, "home_zone": "ap-southeast-2b"})
    assert moved.replaces == ["home_zone"] and moved.delete_before_replace is True
    preview = approval.diff("id", olds, {**olds, "home_zone": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
    assert preview.replaces == ["home_zone"]
    # A stack from before the home was tracked: recorded in place, nothing is re-approved.
    upgraded = approval.diff("id", {k: v for k, v in olds.items() if k != "home_zone"}, olds)
    assert upgraded.changes is True and upgraded.replaces == []


def test_a_state_that_tied_the_approval_to_the_home_volume_id_is_not_re_approved(approval):
    # Earlier releases recorded node 0's volume id (mirror_home); a restore gives a new volume id
    # for the same mirror, so the zone replaced it. Moving to the zone changes nothing on the primary.
    olds = {
        "primary_url": "https://p.example.com",
        "base_url": "https://m.example.com",
        "timeout_s": 60,
        "mirror_home": "vol-0aaaaaaaaaaaaaaa1",
        "generation": "g1",
    }
    news = {k: v for k, v in olds.items() if k != "mirror_home"} | {"home_zone": "ap-southeast-2a"}
    moved = approval.diff("id", olds, news)
    assert moved.replaces == [] and moved.changes is True


def test_new_tie_inputs_absent_from_an_old_state_change_nothing(approval):
    olds = {
        "primary_url": "https://p.example.com",
        "base_url": "https://m.example.com",
        "timeout_s": 60,
        "home_zone": "ap-southeast-2a",
        "generation": "g1",
    }
    news = {**olds, "display_name": "Sydney", "version": "9.4.16"}
    recorded = approval.diff("id", olds, news)
    assert recorded.changes is False and recorded.replaces == []
    # Once recorded: an upgrade changes nothing here; a new display name is an update (the
    # generation, which changes with it, replaces the approval).
    assert approval.diff("id", news, {**news, "version": "9.4.17"}).changes is False
    renamed = approval.diff("id", news, {**news, "display_name": "Sydney 2"})
    assert renamed.changes is True and renamed.replaces == []


def test_the_waiting_line_comes_every_progress_interval_not_every_poll(emu, approval, monkeypatch, capsys):
    import providers.clock

    now = [0.0]
    monkeypatch.setattr(providers.clock, "now", lambda: now[0])
    monkeypatch.setattr(providers.clock, "sleep", lambda s: now.__setitem__(0, now[0] + max(s, 0.0)))
    # Production settings (the fixture polls faster; the interval between lines is the class's own),
    # on modelled time.
    approval.poll_interval_s = MirrorApprovalProvider.poll_interval_s
    assert "progress_every_s" not in vars(approval)
    with pytest.raises(ApprovalTimeout):
        approval.create(props(emu, "https://mirror-syd.example.com", timeout_s=95))
    lines = [line for line in capsys.readouterr().err.splitlines() if "waiting for the mirroring request" in line]
    assert [line.split("(")[1].split("s of")[0] for line in lines] == ["30", "60", "90"]
    rounds = [r for r in emu.requests_to("primary") if r.path == "/rest/mirroring/latest/requests"]
    assert 90 <= len(rounds) <= 96, "still one poll a second"


@pytest.mark.parametrize("expected, warned", [("SINGLE", False), ("FARM", True), (None, False)])
def test_a_request_of_another_mirror_type_is_accepted_with_a_warning(emu, approval, capsys, expected, warned):
    mirror = emu.add_mirror("syd", mirror_type="SINGLE")
    approval.create(props(emu, mirror.url, expected_type=expected))
    said = capsys.readouterr().err
    assert ("is a 'SINGLE' mirror, expected FARM; accepting it anyway" in said) is warned
    assert ("accepting it anyway" in said) is warned
    assert emu.stats.successful("POST", ACCEPT) == 1


def test_destroy_refuses_a_recorded_id_that_the_primary_lists_at_another_base_url(emu, approval):
    from providers.mirror_approval import NotOurMirror

    mirror = emu.add_mirror("syd")
    created = approval.create(props(emu, mirror.url))
    emu.state.mirror_servers[mirror.mirror_id]["baseUrl"] = "https://someone-else.example.com"
    with pytest.raises(NotOurMirror) as caught:
        approval.delete(created.id, created.outs)
    assert "at 'https://someone-else.example.com', not at" in str(caught.value)
    assert mirror.mirror_id in emu.state.mirror_servers, "not removed"
    assert not any(r.method == "DELETE" for r in emu.log)


def test_destroy_removes_only_the_id_the_state_recorded(emu, approval):
    from providers.mirror_approval import NotOurMirror

    mirror = emu.add_mirror("syd")
    other = approved_mirror(emu, "mel")
    created = approval.create(props(emu, mirror.url))
    with pytest.raises(NotOurMirror, match="the state records mirror"):
        approval.delete(other.mirror_id, created.outs)
    assert set(emu.state.mirror_servers) == {mirror.mirror_id, other.mirror_id}


def _request(id_, mirror_id, name="syd", version="9.4.16"):
    from providers.answers import RestMirroringRequest

    return RestMirroringRequest(
        id=id_,
        mirrorBaseUrl="https://m.example.com",
        state="PENDING",
        mirrorId=mirror_id,
        mirrorName=name,
        productVersion=version,
    )


def test_the_choice_among_pending_requests_is_by_server_id_only():
    from providers.approval_choice import choose

    ours, rogue = _request(1, "AAAA"), _request(2, "BBBB")  # the rogue copies name and version
    assert choose([rogue, ours], "AAAA").request == ours
    assert choose([rogue, ours], "AAAA").untied == (rogue,)
    # No Server ID from the mirror: nothing, however well a request copies the rest.
    assert choose([ours], None).request is None and choose([ours], None).untied == (ours,)
    assert choose([rogue], "AAAA").request is None
    twins = choose([ours, _request(3, "AAAA")], "AAAA")
    assert twins.request is None and len(twins.ambiguous) == 2
