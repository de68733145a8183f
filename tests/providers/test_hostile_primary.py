"""A primary (and a mirror) that answers wrongly on purpose, one way per item of the issue: pages
that never end and Retry-After: 3600 (1), a second request for our base URL (2), redirects to
plain HTTP (3), malformed 200 answers (4), 401 and 500 forever (5). Every provider ends within its
deadline, saying which URL answered what and what was wrong; only our mirror is ever approved."""

from __future__ import annotations

import threading
import time

import pytest

import providers.clock
from providers import mirror_api
from providers.client import CALL_BUDGET_S, MAX_RETRY_AFTER_S, BitbucketClient
from providers.errors import AnswerError, AuthenticationError, PermissionDenied, RedirectRefused, ServerUnavailable
from providers.mirror_approval import ApprovalMismatch, ApprovalRefused, ApprovalTimeout
from providers.mirrored_projects import SyncTimeout

from .conftest import PASSWORD, approved_mirror
from .hostile import NOTHING, Hostile, answer, hang, raw, redirect

REQUESTS = "/rest/mirroring/latest/requests"
SERVERS = "/rest/mirroring/latest/mirrorServers"
ACCEPT = "/rest/mirroring/latest/requests/{id}/accept"
SSH = "/rest/ssh/latest/settings"
PROGRESS = "/rest/mirroring/latest/progress"
# What a provider may take beyond its deadline: the round in flight and the process's own latency.
SLACK_S = 1.5


def trust(*servers) -> str:
    return "\n".join(s.ca_pem for s in servers)


def approval_props(primary_url: str, base_url: str, ca: str, **over):
    return {
        "primary_url": primary_url,
        "base_url": base_url,
        "timeout_s": 10,
        "ca_bundle": ca,
        "expected_type": "SINGLE",
        **over,
    }


def only(method: str, path: str, reply):
    """A script answering `method path` with `reply` (an Answer, or a function of the request), and
    passing everything else on to the emulator."""

    def script(seen):
        if seen.method == method and seen.path == path:
            return reply(seen) if callable(reply) else reply
        return None

    return script


def in_time(call, deadline_s: float):
    """Run `call`, expecting an exception; return it and check it came within the deadline."""
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        call()
    took = time.monotonic() - start
    assert took < deadline_s + SLACK_S, f"took {took:.1f}s for a {deadline_s}s deadline: {caught.value}"
    return caught.value


@pytest.fixture
def fake_clock(monkeypatch):
    """Modelled time for providers.clock: a sleep passes at once and moves `now` on."""

    class Clock:
        t = 0.0
        sleeps: list[float] = []

        def now(self) -> float:
            return self.t

        def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            self.t += max(seconds, 0.0)

    clock = Clock()
    clock.sleeps = []
    monkeypatch.setattr(providers.clock, "now", clock.now)
    monkeypatch.setattr(providers.clock, "sleep", clock.sleep)
    return clock


# --- 1. waits end by their deadline, whatever the server answers -----------------------------
@pytest.mark.parametrize("pager", ["repeat", "cycle", "backwards"])
def test_a_next_page_start_that_does_not_advance_ends_the_approval_naming_the_url(emu, approval, pager):
    mirror = emu.add_mirror("syd")

    def page(seen):
        start = int(seen.query.get("start", 0))
        following = {"repeat": start, "cycle": 0 if start else 25, "backwards": max(start - 1, 0)}[pager]
        return answer(
            {"values": [], "size": 0, "limit": 25, "start": start, "isLastPage": False, "nextPageStart": following}
        )

    with Hostile(only("GET", REQUESTS, page), emu.primary_url, emu.ca_file) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=3)), 3
        )
        assert isinstance(error, AnswerError)
        assert f"GET {primary.url}{REQUESTS} answered 200 with nextPageStart" in str(error)
        assert "page forever" in str(error)
        assert len(primary.requests_to(REQUESTS)) <= 2, "stopped at the first page that did not advance"
    assert emu.stats.successful("POST", ACCEPT) == 0


def test_pages_that_advance_forever_end_with_the_deadline_and_say_so(emu, approval):
    mirror = emu.add_mirror("syd")

    def endless(seen):
        start = int(seen.query.get("start", 0))
        return answer({"values": [], "start": start, "isLastPage": False, "nextPageStart": start + 1})

    with Hostile(only("GET", REQUESTS, endless), emu.primary_url, emu.ca_file) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=2)), 2
        )
    assert isinstance(error, AnswerError) and f"{primary.url}{REQUESTS}" in str(error)
    assert "no last page after" in str(error)


def test_a_collection_longer_than_the_page_bound_is_refused(emu):
    def endless(seen):
        start = int(seen.query.get("start", 0))
        return answer(
            {
                "values": [{"id": start, "key": f"P{start}"}],
                "start": start,
                "isLastPage": False,
                "nextPageStart": start + 1,
            }
        )

    with Hostile(endless) as primary:
        client = BitbucketClient(primary.url, "admin", PASSWORD, ca_bundle=primary.ca_pem, max_pages=7)
        with pytest.raises(AnswerError, match="more than 7 pages"):
            list(client.iter_paged("/rest/api/latest/projects"))
        assert len(primary.seen) == 7


def test_a_cyclic_project_listing_ends_the_project_selection_naming_the_url(emu, projects):
    emu.add_project("PLAT")
    mirror = approved_mirror(emu)
    loop = only(
        "GET",
        "/rest/api/latest/projects",
        lambda seen: answer(
            {
                "values": [{"id": 1, "key": "PLAT"}],
                "start": int(seen.query.get("start", 0)),
                "isLastPage": False,
                "nextPageStart": 0,
            }
        ),
    )
    with Hostile(loop, emu.primary_url, emu.ca_file) as primary:
        props = {
            "primary_url": primary.url,
            "mirror_url": mirror.url,
            "mirror_id": mirror.mirror_id,
            "project_keys": ["PLAT"],
            "mirror_all": False,
            "wait_for_sync": False,
            "sync_timeout_s": 10,
            "ca_bundle": trust(primary, emu),
        }
        error = in_time(lambda: projects.create(props), 3)
    assert isinstance(error, AnswerError) and f"{primary.url}/rest/api/latest/projects" in str(error)
    assert mirror.project_ids == set()


def test_retry_after_an_hour_does_not_outlast_the_approval_deadline(emu, approval):
    mirror = emu.add_mirror("syd")
    busy = only("GET", REQUESTS, answer({"errors": [{"message": "busy"}]}, 503, Retry_After="3600"))
    with Hostile(busy, emu.primary_url, emu.ca_file) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=3)), 3
        )
    assert isinstance(error, ApprovalTimeout)
    text = str(error)
    assert f"GET {primary.url}{REQUESTS} answered 503" in text and "'3600'" in text
    assert "No pending request was seen" not in text
    assert emu.stats.successful("POST", ACCEPT) == 0


def test_retry_after_is_capped_and_a_call_without_deadline_ends_within_its_budget(emu, setup_provider, fake_clock):
    busy = only("GET", "/rest/api/latest/application-properties", answer({}, 503, Retry_After="3600"))
    with Hostile(busy) as primary:
        with pytest.raises(ServerUnavailable) as caught:
            setup_provider.create(
                {
                    "primary_url": primary.url,
                    "display_name": "Sydney",
                    "base_url": "https://mirror-syd.example.com",
                    "ca_bundle": primary.ca_pem,
                }
            )
    assert caught.value.status == 503 and primary.url in str(caught.value)
    assert fake_clock.sleeps and max(fake_clock.sleeps) <= MAX_RETRY_AFTER_S
    assert sum(fake_clock.sleeps) <= CALL_BUDGET_S


def test_a_retry_that_could_not_start_before_the_deadline_is_not_waited_for():
    from providers.clock import Deadline

    busy = lambda seen: answer({"errors": [{"message": "busy"}]}, 503, Retry_After="3600")  # noqa: E731
    with Hostile(busy) as primary:
        client = BitbucketClient(primary.url, "admin", PASSWORD, ca_bundle=primary.ca_pem)
        start = time.monotonic()
        with pytest.raises(ServerUnavailable, match="answered 503: busy; it asked to be retried after '3600'"):
            client.get("/rest/api/latest/application-properties", deadline=Deadline(3))
        assert time.monotonic() - start < 1, "the last answer is reported at once, not at the deadline"
        assert len(primary.seen) == 1


def test_a_primary_that_never_answers_ends_the_approval_at_its_deadline(emu, approval):
    mirror = emu.add_mirror("syd")
    silent = lambda seen: hang(30)  # noqa: E731 - accepts every connection, answers none
    with Hostile(silent) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=2)), 2
        )
    assert isinstance(error, ApprovalTimeout)
    assert f"{primary.url}{SERVERS}" in str(error) and "timed out" in str(error)


def test_a_mirror_that_never_answers_ends_the_sync_wait_at_its_deadline(emu, projects):
    emu.add_project("PLAT")
    mirror = approved_mirror(emu)
    with Hostile(only("GET", PROGRESS, hang(30)), mirror.url, emu.ca_file) as front:
        props = {
            "primary_url": emu.primary_url,
            "mirror_url": front.url,
            "mirror_id": mirror.mirror_id,
            "project_keys": ["PLAT"],
            "mirror_all": False,
            "wait_for_sync": True,
            "sync_timeout_s": 2,
            "ca_bundle": trust(front, emu),
        }
        error = in_time(lambda: projects.create(props), 2)
    assert isinstance(error, SyncTimeout)
    assert f"{front.url}{PROGRESS}" in str(error) and "timed out" in str(error)


# --- 2. only the request of the mirror this stack installed is approved ------------------------
def two_requests_for_one_url(emu, rogue_name: str = "syd"):
    """Ours registers first; a rogue claiming the same base URL (and, by default, our name and
    version) registers after it, so it is the newest pending request."""
    ours = emu.add_mirror("syd")
    emu.state.tick()
    rogue = emu.add_mirror("rogue", base_url=ours.url, serve=False)
    rogue.display_name = rogue_name
    emu.state.tick()
    assert rogue.request_id > ours.request_id
    return ours, rogue


def test_the_race_approves_only_the_request_tied_by_the_mirrors_server_id(emu, approval, capsys):
    ours, rogue = two_requests_for_one_url(emu)
    result = approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, display_name="syd"))
    assert result.id == ours.mirror_id
    assert emu.state.requests[ours.request_id]["state"] == "ACCEPTED"
    assert emu.state.requests[rogue.request_id]["state"] == "PENDING"
    assert set(emu.state.mirror_servers) == {ours.mirror_id}
    said = capsys.readouterr().err
    assert f"accepted the mirroring request {ours.request_id}" in said and ours.mirror_id in said
    assert "server ID" in said


@pytest.mark.parametrize("who_registers", ["both, only ours named as configured", "only a rogue copying both"])
def test_a_mirror_that_cannot_say_its_server_id_gets_nothing_accepted(emu, approval, who_registers):
    # The name + version fallback accepted a rogue that copied both; there is no fallback now.
    if who_registers.startswith("both"):
        ours, rogue = two_requests_for_one_url(emu, rogue_name="not-syd")
    else:
        ours = emu.add_mirror("syd", register_after_s=3600)
        rogue = emu.add_mirror("rogue", base_url=ours.url, serve=False)
        rogue.display_name = "syd"
    ours.reports_server_id = False  # admin/license answers 404
    error = in_time(
        lambda: approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, display_name="syd", timeout_s=1)),
        1,
    )
    assert isinstance(error, ApprovalTimeout)
    text = str(error)
    assert f"the mirror at {ours.url} could not say its server ID within 1s" in text
    assert "No license has been installed" in text and "nothing was accepted" in text
    assert f"request {rogue.request_id}: " in text
    assert emu.stats.successful("POST", ACCEPT) == 0 and emu.state.mirror_servers == {}


def test_a_mirror_that_says_its_server_id_late_is_waited_for_with_progress(emu, approval, capsys):
    ours, rogue = two_requests_for_one_url(emu)
    ours.reports_server_id = False
    approval.progress_every_s = 0.3
    threading.Timer(1.0, lambda: setattr(ours, "reports_server_id", True)).start()
    result = approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, timeout_s=10))
    assert result.id == ours.mirror_id
    assert emu.state.requests[rogue.request_id]["state"] == "PENDING"
    said = capsys.readouterr().err
    assert "the mirror cannot say its server ID yet (GET" in said and "nothing is accepted until it does" in said


def test_a_rogue_copying_our_server_id_as_well_gets_both_refused_and_listed(emu, approval):
    ours = emu.add_mirror("syd")
    emu.state.tick()
    rogue = emu.add_mirror("rogue", base_url=ours.url, serve=False, register_after_s=3600)
    rogue.mirror_id, rogue.display_name = ours.mirror_id, "syd"
    emu.state.register(rogue)
    error = in_time(lambda: approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem)), 2)
    assert isinstance(error, ApprovalRefused)
    text = str(error)
    assert f"2 of them carry the server ID '{ours.mirror_id}'" in text and "Nothing was accepted" in text
    for mirror in (ours, rogue):
        assert f"request {mirror.request_id}: name 'syd', address '{ours.url}', mirror id '{ours.mirror_id}'" in text
    assert emu.state.mirror_servers == {}


@pytest.mark.parametrize("lie", ["another mirror id", "another base URL"])
def test_an_accept_answering_for_another_mirror_is_not_recorded(emu, approval, lie):
    mirror = emu.add_mirror("syd")
    emu.state.tick()
    told = (
        {"id": "B0B0-0000-0000-0000", "baseUrl": mirror.url}
        if lie == "another mirror id"
        else {"id": mirror.mirror_id, "baseUrl": "https://elsewhere.example.com"}
    )
    accept = f"{REQUESTS}/{mirror.request_id}/accept"
    with Hostile(only("POST", accept, answer(told)), emu.primary_url, emu.ca_file) as primary:
        with pytest.raises(ApprovalMismatch) as caught:
            approval.create(approval_props(primary.url, mirror.url, trust(primary, emu)))
        assert len(primary.requests_to(SERVERS)) == 2, "the approved mirrors were read again after the answer"
    text = str(caught.value)
    assert f"with mirror '{told['id']}' at '{told['baseUrl']}', which is not that request's mirror" in text
    assert f"the primary lists no approved mirror with id '{mirror.mirror_id}'" in text
    assert "Nothing was recorded" in text


def test_a_rogue_request_alone_is_never_accepted_and_is_listed_at_the_deadline(emu, approval):
    ours = emu.add_mirror("syd", register_after_s=3600)  # ours never registers in time
    rogue = emu.add_mirror("rogue", base_url=ours.url, serve=False)
    rogue.display_name = "syd"
    error = in_time(
        lambda: approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, display_name="syd", timeout_s=1)),
        1,
    )
    assert isinstance(error, ApprovalRefused)
    assert f"request {rogue.request_id}" in str(error) and ours.mirror_id in str(error)
    assert emu.state.requests[rogue.request_id]["state"] == "PENDING" and emu.state.mirror_servers == {}


def test_our_request_arriving_after_a_rogue_one_is_the_one_accepted(emu, approval):
    ours = emu.add_mirror("syd", register_after_s=0.5)
    rogue = emu.add_mirror("rogue", base_url=ours.url, serve=False)
    result = approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, display_name="syd"))
    assert result.id == ours.mirror_id
    assert emu.state.requests[rogue.request_id]["state"] == "PENDING"


def test_a_rogue_approved_for_our_url_is_not_adopted(emu, approval):
    ours, rogue = two_requests_for_one_url(emu)
    emu.state.accept(rogue.request_id)  # someone authorized the wrong one
    result = approval.create(approval_props(emu.primary_url, ours.url, emu.ca_pem, display_name="syd"))
    assert result.id == ours.mirror_id
    assert emu.state.requests[ours.request_id]["state"] == "ACCEPTED"


# --- 3. no redirect off https, none at all for writes ------------------------------------------
def test_a_redirect_to_plain_http_is_not_followed_by_the_preflight(emu, setup_provider):
    with Hostile(lambda seen: answer({"enabled": True, "port": 22}), tls=False) as plain:
        moved = only("GET", SSH, redirect(f"{plain.url}{SSH}"))
        with Hostile(moved, emu.primary_url, emu.ca_file) as primary:
            with pytest.raises(RedirectRefused) as caught:
                setup_provider.create(
                    {
                        "primary_url": primary.url,
                        "display_name": "Sydney",
                        "base_url": "https://mirror-syd.example.com",
                        "ca_bundle": trust(primary, emu),
                    }
                )
        assert plain.seen == [], "nothing reached the plain-text server"
    text = str(caught.value)
    assert f"GET {primary.url}{SSH} answered 302" in text and f"{plain.url}{SSH}" in text and "not https" in text


@pytest.mark.parametrize("to", ["http", "https"])
def test_an_accept_is_never_redirected(emu, approval, to):
    mirror = emu.add_mirror("syd")
    with Hostile(lambda seen: answer({"id": "PLAIN-TEXT-ID", "baseUrl": mirror.url}), tls=(to == "https")) as elsewhere:
        script = only("POST", f"{REQUESTS}/{1}/accept", redirect(f"{elsewhere.url}/accept", 307))
        with Hostile(script, emu.primary_url, emu.ca_file) as primary:
            with pytest.raises(RedirectRefused) as caught:
                approval.create(approval_props(primary.url, mirror.url, trust(primary, emu, elsewhere)))
        assert elsewhere.seen == []
    assert "never follows a redirect of a write" in str(caught.value)
    assert emu.stats.successful("POST", ACCEPT) == 0


def test_a_read_redirected_within_https_is_followed_and_named(emu, setup_provider):
    moved = only(
        "GET",
        "/rest/api/latest/application-properties",
        redirect("/bitbucket/rest/api/latest/application-properties", 301),
    )
    with Hostile(moved, emu.primary_url, emu.ca_file) as primary:
        result = setup_provider.create(
            {
                "primary_url": primary.url,
                "display_name": "Sydney",
                "base_url": "https://mirror-syd.example.com",
                "ca_bundle": trust(primary, emu),
            }
        )
        assert primary.requests_to("/bitbucket/rest/api/latest/application-properties")
    assert result.outs["primary_version"] == "9.4.16"


def test_the_client_refuses_a_url_that_is_not_https():
    for url in ("http://primary.example.com", "https://admin:pw@primary.example.com", "ftp://primary.example.com"):
        with pytest.raises(ValueError) as caught:
            BitbucketClient(url, "admin", PASSWORD)
        assert "refusing" in str(caught.value) and "pw" not in str(caught.value)


# --- 4. malformed 200 answers are errors that say what was wrong -----------------------------
@pytest.mark.parametrize(
    "body, found",
    [
        (None, "null"),
        ([], "an empty list"),
        (NOTHING, "an empty body"),
        ({}, "no values; no isLastPage"),
        (
            {"values": [{"id": "1", "mirrorBaseUrl": "x", "state": "PENDING"}], "isLastPage": True},
            "values[0].id as a string",
        ),
        ({"values": None, "isLastPage": "true"}, "values as null; isLastPage as a string"),
    ],
)
def test_a_malformed_request_listing_is_named_with_what_it_held(emu, approval, body, found):
    mirror = emu.add_mirror("syd")
    with Hostile(only("GET", REQUESTS, answer(body)), emu.primary_url, emu.ca_file) as primary:
        with pytest.raises(AnswerError) as caught:
            approval.create(approval_props(primary.url, mirror.url, trust(primary, emu)))
    assert str(caught.value).startswith(f"GET {primary.url}{REQUESTS} answered 200 with {found} (expected ")
    assert "RestMirroringRequest" in str(caught.value)


def test_a_body_that_is_not_json_is_named(emu, approval):
    mirror = emu.add_mirror("syd")
    with Hostile(
        only("GET", REQUESTS, raw(b"<html>maintenance</html>", content_type="text/html")), emu.primary_url, emu.ca_file
    ) as primary:
        with pytest.raises(AnswerError, match="answered 200 with a body that is not JSON"):
            approval.create(approval_props(primary.url, mirror.url, trust(primary, emu)))


def test_an_empty_object_from_accept_is_an_error_that_says_what_to_do(emu, approval):
    mirror = emu.add_mirror("syd")
    accept = f"{REQUESTS}/1/accept"
    with Hostile(only("POST", accept, answer({})), emu.primary_url, emu.ca_file) as primary:
        with pytest.raises(AnswerError) as caught:
            approval.create(approval_props(primary.url, mirror.url, trust(primary, emu)))
    text = str(caught.value)
    assert f"POST {primary.url}{accept} answered 200 with no id; no baseUrl" in text
    assert "RestMirrorServer" in text and "pulumi refresh" in text


@pytest.mark.parametrize(
    "body, found",
    [
        ({"values": [], "isLastPage": True}, "an object"),
        (None, "null"),
        ([{"address": {"address": "10.0.0.1"}}], "no [0].buildVersion"),
    ],
)
def test_farm_nodes_that_are_not_a_list_of_nodes_are_named(body, found):
    with Hostile(only("GET", "/rest/mirroring/latest/farmNodes", answer(body))) as mirror:
        client = BitbucketClient(mirror.url, "admin", PASSWORD, ca_bundle=mirror.ca_pem)
        with pytest.raises(AnswerError) as caught:
            mirror_api.farm_nodes(client)
    assert str(caught.value).startswith(f"GET {mirror.url}/rest/mirroring/latest/farmNodes answered 200 with {found}")
    assert "RestClusterNode" in str(caught.value)


@pytest.mark.parametrize(
    "path, body, found",
    [
        (SSH, {"enabled": "false", "port": 7999}, "enabled as a string"),
        (SSH, {"enabled": True, "port": "7999"}, "port as a string"),
        (SSH, {}, "no enabled"),
        ("/rest/api/latest/admin/license", {"status": {"dataCenter": "false"}}, "status.dataCenter as a string"),
        ("/rest/api/latest/application-properties", {"version": 9}, "version as a number"),
    ],
)
def test_the_preflight_never_reads_a_malformed_answer_as_a_yes(emu, setup_provider, path, body, found):
    with Hostile(only("GET", path, answer(body)), emu.primary_url, emu.ca_file) as primary:
        with pytest.raises(AnswerError) as caught:
            setup_provider.create(
                {
                    "primary_url": primary.url,
                    "display_name": "Sydney",
                    "base_url": "https://mirror-syd.example.com",
                    "ca_bundle": trust(primary, emu),
                }
            )
    assert f"GET {primary.url}{path} answered 200 with {found}" in str(caught.value)


@pytest.mark.parametrize(
    "body, found",
    [
        ({}, "no discovering; no syncedRepos; no totalRepos"),
        (
            {"discovering": False, "syncedRepos": "6", "totalRepos": "6"},
            "syncedRepos as a string; totalRepos as a string",
        ),
        ({"discovering": "false", "syncedRepos": 6, "totalRepos": 6}, "discovering as a string"),
    ],
)
def test_a_malformed_sync_progress_never_counts_as_synchronised(emu, projects, body, found):
    emu.add_project("PLAT")
    mirror = approved_mirror(emu)
    with Hostile(only("GET", PROGRESS, answer(body)), mirror.url, emu.ca_file) as front:
        props = {
            "primary_url": emu.primary_url,
            "mirror_url": front.url,
            "mirror_id": mirror.mirror_id,
            "project_keys": ["PLAT"],
            "mirror_all": False,
            "wait_for_sync": True,
            "sync_timeout_s": 5,
            "ca_bundle": trust(front, emu),
        }
        with pytest.raises(AnswerError) as caught:
            projects.create(props)
    assert f"GET {front.url}{PROGRESS} answered 200 with {found}" in str(caught.value)


def test_malformed_sync_settings_change_nothing(emu, projects):
    emu.add_project("PLAT")
    mirror = approved_mirror(emu)
    settings = "/rest/mirroring/latest/syncSettings"
    with Hostile(
        only("GET", settings, answer({"mode": "SOME_PROJECTS", "projectIds": [1]})), mirror.url, emu.ca_file
    ) as front:
        props = {
            "primary_url": emu.primary_url,
            "mirror_url": front.url,
            "mirror_id": mirror.mirror_id,
            "project_keys": ["PLAT"],
            "mirror_all": False,
            "wait_for_sync": False,
            "sync_timeout_s": 5,
            "ca_bundle": trust(front, emu),
        }
        with pytest.raises(AnswerError, match="mode as a string; projectIds\\[0\\] as a number"):
            projects.create(props)
        assert [s.method for s in front.seen] == ["GET"]


# --- 5. authentication and server errors, as what they are ------------------------------------
def test_zdu_end_with_bad_credentials_fails_at_once(emu):
    mirror = approved_mirror(emu)
    client = BitbucketClient(mirror.url, "admin", "wrong-" + PASSWORD, ca_bundle=emu.ca_pem)
    error = in_time(lambda: mirror_api.end_upgrade_mode(client, timeout_s=300, pause_s=10), 0)
    assert isinstance(error, AuthenticationError) and f"POST {mirror.url}/rest/mirroring/latest/zdu/end" in str(error)
    assert len([r for r in emu.requests_to("syd") if r.path.endswith("/zdu/end")]) == 1
    assert PASSWORD not in str(error)


def test_zdu_end_refused_permission_fails_at_once():
    with Hostile(
        only("POST", "/rest/mirroring/latest/zdu/end", answer({"errors": [{"message": "no"}]}, 403))
    ) as mirror:
        client = BitbucketClient(mirror.url, "admin", PASSWORD, ca_bundle=mirror.ca_pem)
        error = in_time(lambda: mirror_api.end_upgrade_mode(client, timeout_s=300, pause_s=10), 0)
        assert isinstance(error, PermissionDenied) and len(mirror.seen) == 1


def test_zdu_end_is_retried_while_the_farm_is_mixed_or_unavailable(fake_clock):
    answers = iter([answer({}, 409), answer({}, 500), answer({"rollingUpgradeEnabled": False, "version": "9.4.16"})])
    with Hostile(only("POST", "/rest/mirroring/latest/zdu/end", lambda seen: next(answers))) as mirror:
        client = BitbucketClient(mirror.url, "admin", PASSWORD, ca_bundle=mirror.ca_pem)
        mirror_api.end_upgrade_mode(client, timeout_s=300, pause_s=10)
        assert len(mirror.seen) == 3 and fake_clock.sleeps == [10, 10]


def test_an_approval_against_a_primary_that_always_answers_500_says_so(emu, approval):
    mirror = emu.add_mirror("syd")
    broken = lambda seen: answer({"errors": [{"message": "database gone"}]}, 500)  # noqa: E731
    with Hostile(broken) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=1)), 1
        )
    text = str(error)
    assert isinstance(error, ApprovalTimeout)
    assert f"GET {primary.url}{SERVERS} answered 500: database gone" in text
    assert "No pending request was seen" not in text and "appeared" not in text


def test_a_primary_that_recovered_is_not_blamed_for_a_request_that_never_came(emu, approval):
    failures = []

    def twice(seen):
        if seen.path == REQUESTS and len(failures) < 2:
            failures.append(seen)
            return answer({"errors": [{"message": "database gone"}]}, 500)
        return None

    mirror = emu.add_mirror("syd", register_after_s=3600)
    with Hostile(twice, emu.primary_url, emu.ca_file) as primary:
        with pytest.raises(ApprovalTimeout) as caught:
            approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=1))
    assert f"no mirroring request from {mirror.url} appeared" in str(caught.value)
    assert "500" not in str(caught.value)


@pytest.mark.parametrize("status, kind", [(401, AuthenticationError), (403, PermissionDenied)])
def test_an_approval_with_refused_credentials_fails_at_once(emu, approval, status, kind):
    mirror = emu.add_mirror("syd")
    with Hostile(lambda seen: answer({"errors": [{"message": "nope"}]}, status)) as primary:
        error = in_time(
            lambda: approval.create(approval_props(primary.url, mirror.url, trust(primary, emu), timeout_s=30)), 0
        )
        assert isinstance(error, kind) and f"GET {primary.url}{SERVERS} answered {status}" in str(error)
        assert len(primary.seen) == 1
