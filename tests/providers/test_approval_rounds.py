"""The approval's policy without a server: which pending request is the mirror's
(providers/approval_choice.py) and what one round on the primary does with what it reads
(providers/approval_rounds.py), against a primary held in a dict. The emulator's tests
(test_mirror_approval.py, test_hostile_primary.py) drive the same policy over HTTPS."""

from __future__ import annotations

import pytest

from providers import clock
from providers.answers import RestMirroringRequest, RestMirrorServer
from providers.approval_choice import choose
from providers.approval_rounds import REQUESTS, ApprovalRounds, MirrorIdentity
from providers.errors import ApprovalRefused, ApprovalTimeout, ServerUnavailable

URL = "https://mirror.example.com"


def request(id_: int, mirror_id: str, state: str = "PENDING", url: str = URL) -> RestMirroringRequest:
    return RestMirroringRequest(id=id_, mirrorBaseUrl=url, state=state, mirrorId=mirror_id, mirrorType="SINGLE")


class Primary:
    """The primary's requests and approved mirrors; each accept approves its request's mirror."""

    def __init__(self, requests: list[RestMirroringRequest], servers: list[RestMirrorServer] = ()) -> None:
        self.requests, self.servers, self.accepted, self.lose_accept = list(requests), list(servers), [], False

    def iter_paged(self, path, *, item, deadline):
        return iter(self.requests if path == REQUESTS else self.servers)

    def post(self, path, *, deadline, expect):
        id_ = int(path.split("/")[-2])
        self.accepted.append(id_)
        found = next(r for r in self.requests if r.id == id_)
        self.servers.append(RestMirrorServer(id=found.mirrorId, baseUrl=found.mirrorBaseUrl))
        if self.lose_accept:
            raise ServerUnavailable("POST", path, 502)
        return self.servers[-1]


def rounds(primary: Primary, server_id: str | None) -> ApprovalRounds:
    answer = MirrorIdentity(server_id=server_id) if server_id else MirrorIdentity(problem="404 on admin/license")
    return ApprovalRounds(primary, URL, clock.Deadline(60), identify=lambda _deadline: answer)


def test_choose_takes_the_one_request_whose_mirror_id_is_the_server_id():
    ours, rogue = request(1, "B-ours"), request(2, "B-rogue")
    choice = choose([rogue, ours], "B-ours")
    assert (choice.request, choice.ambiguous, choice.untied) == (ours, (), (rogue,))


@pytest.mark.parametrize("server_id", [None, ""])
def test_choose_without_a_server_id_chooses_nothing_whatever_the_requests_say(server_id):
    pending = [request(1, "B-ours")]
    assert choose(pending, server_id).request is None
    assert choose(pending, server_id).untied == tuple(pending)


def test_choose_two_requests_with_the_server_id_are_ambiguous_and_neither_is_taken():
    twins = [request(1, "B-ours"), request(2, "B-ours")]
    choice = choose(twins, "B-ours")
    assert choice.request is None and choice.ambiguous == tuple(twins)


def test_the_rounds_accept_only_the_request_of_the_mirror_that_said_its_server_id():
    primary = Primary([request(1, "B-rogue"), request(2, "B-ours")])
    waiting = rounds(primary, "B-ours")
    # Once the mirror said who it is, the approved mirrors are read first (an admin may have been first).
    assert isinstance(waiting.round(), clock.NotYet) and primary.accepted == []
    server = waiting.round()
    assert primary.accepted == [2]
    assert server.id == "B-ours"


def test_while_the_mirror_cannot_say_who_it_is_nothing_is_accepted_and_the_progress_says_why():
    primary = Primary([request(1, "B-ours")])
    waiting = rounds(primary, None)
    assert isinstance(waiting.round(), clock.NotYet)
    assert primary.accepted == []
    assert "cannot say its server ID yet (404 on admin/license)" in waiting.progress()
    assert isinstance(waiting.ended("mirrors[0].approvalTimeoutS"), ApprovalTimeout)


def test_two_requests_carrying_the_server_id_are_refused_at_once():
    primary = Primary([request(1, "B-ours"), request(2, "B-ours")])
    waiting = rounds(primary, "B-ours")
    waiting.round()  # the approved mirrors: none
    with pytest.raises(ApprovalRefused):
        waiting.round()
    assert primary.accepted == []


def test_an_accept_whose_answer_was_lost_is_not_replayed_the_next_round_adopts_the_approved_mirror():
    primary = Primary([request(7, "B-ours")])
    primary.lose_accept = True
    waiting = rounds(primary, "B-ours")
    waiting.round()  # the approved mirrors: none
    assert isinstance(waiting.round(), clock.NotYet)  # the accept, its answer lost
    assert waiting.accept_lost and waiting.check_servers
    server = waiting.round()
    assert primary.accepted == [7]  # once: the second round read the approved mirrors instead
    assert server.id == "B-ours"


def test_a_mirror_already_approved_for_the_url_with_another_id_is_not_adopted():
    old = RestMirrorServer(id="B-old-incarnation", baseUrl=URL)
    primary = Primary([], [old])
    waiting = rounds(primary, "B-ours")
    assert isinstance(waiting.round(), clock.NotYet)  # the approved mirrors: one, not ours
    assert isinstance(waiting.round(), clock.NotYet)  # the requests: none
    assert primary.servers == [old] and primary.accepted == []
