"""The rounds of MirrorApproval's wait on the primary: what one round reads, what it concludes, and
what the wait says while it goes on and when it ends (providers/mirror_approval.py has the
contract and the why).

Each round makes one request to the primary: the approved mirrors when they may hold ours (once
the mirror said its Server ID, after an accept whose answer was lost, when an accepted request for
the URL shows up), otherwise the list of requests. What the rounds learn is kept on one object,
`ApprovalRounds`, so the policy reads as its decisions, not as a loop's locals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Union

from . import approval_messages as messages
from .answers import RestMirroringRequest, RestMirrorServer
from .approval_choice import choose
from .base import say
from .clock import Deadline, NotYet

if TYPE_CHECKING:  # the client (requests) loads when a call needs it, not when the program does
    from .client import BitbucketClient
from .errors import (
    AnswerError,
    ApprovalMismatch,
    ApprovalRefused,
    ApprovalTimeout,
    BitbucketError,
    Conflict,
    DeadlineExceeded,
    ProviderError,
    ServerUnavailable,
    Unreachable,
)
from .messages import shown
from .urls import normalise_base_url

REQUESTS = "/rest/mirroring/latest/requests"
SERVERS = "/rest/mirroring/latest/mirrorServers"
LICENSE = "/rest/api/latest/admin/license"
PENDING, ACCEPTED = "PENDING", "ACCEPTED"


class _OutcomeUnknown(Exception):
    """An accept whose answer was lost: it may or may not have happened."""

    def __init__(self, cause: BitbucketError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class MirrorIdentity:
    """What the mirror at the base URL says about itself: its Server ID, or why it said none."""

    server_id: Optional[str] = None
    problem: str = ""
    cut_short: bool = False  # the ask ran out of time: it says less than an answer before it

    @property
    def answered(self) -> bool:
        return bool(self.server_id)


@dataclass
class ApprovalRounds:
    """What the wait for one mirror's approval has learnt so far, and one round of it (`round`):
    the approved mirror once found or accepted, else NotYet. `ended` is the error when time is up,
    `progress` the line said every 30 s meanwhile."""

    client: BitbucketClient
    base_url: str
    deadline: Deadline
    expected_type: Optional[str] = None
    identify: Optional[Callable[[Deadline], MirrorIdentity]] = None
    identity: MirrorIdentity = MirrorIdentity(problem="not asked")
    others: set[str] = field(default_factory=set)  # pending requests for other base URLs
    known_accepted: set[int] = field(default_factory=set)
    untied: tuple[RestMirroringRequest, ...] = ()  # pending for the URL, not proven this mirror's
    problem: Optional[BitbucketError] = None  # what the last round failed on (None: it worked)
    accept_lost: bool = False
    check_servers: bool = False  # the next round reads the approved mirrors, not the requests

    @property
    def target(self) -> str:
        return normalise_base_url(self.base_url)

    def round(self) -> Union[RestMirrorServer, NotYet[None]]:
        if not self.identity.answered and self.identify is not None:
            # Asked until the mirror answers (it may still be starting), then known for good.
            found = self.identify(self.deadline)
            if found.answered or not found.cut_short or self.identity.problem == "not asked":
                self.identity = found  # an ask the deadline cut short says less than the one before it
            self.check_servers = self.check_servers or self.identity.answered
        checking = self.check_servers
        try:
            server = self._servers_round() if checking else self._requests_round()
            self.problem = None
            if server is not None:
                return server
        except _OutcomeUnknown as lost:
            self.accept_lost, self.problem, self.check_servers = True, lost.cause, True
        except Conflict:
            self.problem, self.check_servers = None, True  # accepted, rejected or deleted meanwhile: read it
        except DeadlineExceeded:
            pass  # not sent, the time being up: what the rounds before found is what to report
        except (ServerUnavailable, Unreachable) as exc:
            if self.problem is None or str(self.problem) != str(exc):
                say(f"the primary did not answer as expected ({exc}); reading its state again")
            self.problem, self.check_servers = exc, self.check_servers or checking
        return NotYet()

    def _servers_round(self) -> Optional[RestMirrorServer]:
        self.check_servers = False
        server = approved(self.client, self.target, self.identity, self.deadline)
        if server is not None:
            say(f"mirror {self.base_url} is approved on the primary (id {server.id})")
        return server

    def _requests_round(self) -> Optional[RestMirrorServer]:
        target = self.target
        requests = list(self.client.iter_paged(REQUESTS, item=RestMirroringRequest, deadline=self.deadline))
        mine = [r for r in requests if same_url(r.mirrorBaseUrl, target)]
        self.others |= {r.mirrorBaseUrl for r in requests if r.state == PENDING and r not in mine}
        accepted = {r.id for r in mine if r.state == ACCEPTED} - self.known_accepted
        pending = [r for r in mine if r.state == PENDING]
        choice = choose(pending, self.identity.server_id)
        self.untied = choice.untied
        if accepted:
            # Someone approved it (or our answer was lost); an older incarnation of the URL leaves
            # accepted requests too, so the approved mirrors decide.
            self.known_accepted |= accepted
            self.check_servers = self.identity.answered
        elif choice.ambiguous:
            raise ApprovalRefused(
                messages.ambiguous(self.base_url, self.identity.server_id or "", pending, len(choice.ambiguous))
            )
        elif choice.request is not None:
            return accept(self.client, choice.request, target, self.base_url, self.expected_type, self.deadline)
        return None

    def ended(self, timeout_key: Optional[str]) -> ProviderError:
        base_url, elapsed = self.base_url, self.deadline.elapsed
        raise_it = f" (A mirror that is slow to start: raise {timeout_key}.)" if timeout_key else ""
        if self.accept_lost:
            return ApprovalTimeout(messages.timeout(base_url, elapsed, self.others, self.problem, True) + raise_it)
        if not self.identity.answered and self.problem is None:
            return ApprovalTimeout(messages.unproven(base_url, self.identity.problem, self.untied, elapsed) + raise_it)
        if self.untied and self.identity.server_id:
            return ApprovalRefused(messages.untied(base_url, self.identity.server_id, self.untied, elapsed))
        return ApprovalTimeout(messages.timeout(base_url, elapsed, self.others, self.problem, False) + raise_it)

    def progress(self) -> str:
        why = (
            f"; the mirror cannot say its server ID yet ({self.identity.problem}), and nothing is accepted until "
            "it does"
            if not self.identity.answered
            else f"; {len(self.untied)} pending request(s) for this URL are not from this mirror and are left alone"
            if self.untied
            else ""
        )
        return (
            f"waiting for the mirroring request of {self.base_url} on the primary "
            f"({self.deadline.elapsed:.0f}s of {self.deadline.seconds:.0f}s{why})"
        )


def accept(
    client: BitbucketClient,
    request: RestMirroringRequest,
    target: str,
    base_url: str,
    expected_type: Optional[str],
    deadline: Deadline,
) -> RestMirrorServer:
    """Accept the one request tied to the mirror; an answer that names another mirror or URL is an
    ApprovalMismatch (never recorded, so no destroy removes another mirror), a lost one _OutcomeUnknown."""
    if expected_type and request.mirrorType != expected_type:
        say(
            f"the request from {base_url} is a {shown(request.mirrorType)} mirror, "
            f"expected {expected_type}; accepting it anyway"
        )
    try:
        server = client.post(f"{REQUESTS}/{request.id}/accept", deadline=deadline, expect=RestMirrorServer)
    except DeadlineExceeded:
        raise  # never sent: nothing to find out
    except (ServerUnavailable, Unreachable) as exc:
        raise _OutcomeUnknown(exc) from exc
    except AnswerError as exc:
        raise AnswerError(
            exc.method,
            exc.url,
            exc.status,
            exc.found,
            exc.expected,
            "the primary answered 200, so it probably accepted the request: `pulumi refresh` "
            "then `pulumi up` adopts the approved mirror",
        ) from None
    if server.id != request.mirrorId or not same_url(server.baseUrl, target):
        # Recorded, this id would be what a destroy removes: read what the primary really holds.
        recorded = None
        try:
            recorded = approved(client, target, MirrorIdentity(server_id=request.mirrorId), deadline)
        except BitbucketError as exc:
            say(f"could not read the approved mirrors back ({exc})")
        raise ApprovalMismatch(messages.accept_mismatch(base_url, request, server, recorded))
    say(
        f"accepted the mirroring request {request.id} from {base_url} (mirror id {shown(request.mirrorId)}, "
        f"name {shown(request.mirrorName)}, version {shown(request.productVersion)}), tied to the mirror by "
        "the server ID it reports"
    )
    return server


def approved(
    client: BitbucketClient, target: str, identity: MirrorIdentity, deadline: Deadline
) -> Optional[RestMirrorServer]:
    """The approved mirror for the base URL whose id is the Server ID the mirror reports (an older
    incarnation, or another server, approved for the URL is not ours). None while the mirror has
    not said it."""
    if not identity.server_id:
        return None
    for server in client.iter_paged(SERVERS, item=RestMirrorServer, deadline=deadline):
        if same_url(server.baseUrl, target) and server.id == identity.server_id:
            return server
    return None


def same_url(claimed: str, target: str) -> bool:
    try:
        return normalise_base_url(claimed) == target
    except ValueError:  # a request whose URL does not even parse (a port out of range) is not ours
        return False
