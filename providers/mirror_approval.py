"""MirrorApproval: accept the mirror's request on the primary, as an admin would click Authorize
(README "Resources, per site"). Deleting it removes the mirror from the primary.

Only the request of the mirror this stack installed is accepted. Any server can send the primary
a request naming our base URL, so the URL alone ties nothing: the mirror is asked who it is,
through its base URL, and its answer decides (docs/bitbucket-facts.md §1):

- its Server ID (`GET /rest/api/latest/admin/license`, `status.serverId`), which the vendor's
  document gives a request as `mirrorId` and an approved mirror as `id`: only the request with that
  `mirrorId` is accepted, only the approved mirror with that `id` adopted;
- when it reports none (or cannot be asked), the request's `mirrorName` must be the configured
  display name and its `productVersion` what the mirror reports (`application-properties`, no
  authentication), or the configured version when the mirror does not answer.

Exactly one request tied: accepted. Several: nothing is accepted and all are listed for an admin to
decide. None tied while others claim the URL: waited for until the deadline, then refused, listed.

The accept is a POST whose outcome can be lost (a dropped connection, a 5xx from a proxy): it is
never replayed blindly. Before any accept, and again after one whose answer was lost, it looks for
an approved mirror with the base URL, so a lost answer, a crashed run or an admin who clicked
first all end in adopting that mirror. Requests for other base URLs are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import quote

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .answers import RestApplicationProperties, RestBitbucketLicense, RestMirroringRequest, RestMirrorServer
from .base import BitbucketProvider, input_names, inputs_of, is_unknown, say
from .clock import Deadline

if TYPE_CHECKING:  # the client (requests) loads when a call needs it, not when the program does
    from .client import BitbucketClient
from .errors import (
    AnswerError,
    ApprovalRefused,
    ApprovalTimeout,
    BitbucketError,
    Conflict,
    DeadlineExceeded,
    MirrorGone,
    NotFound,
    ServerUnavailable,
    Unreachable,
)
from .urls import normalise_base_url

REQUESTS = "/rest/mirroring/latest/requests"
SERVERS = "/rest/mirroring/latest/mirrorServers"
LICENSE = "/rest/api/latest/admin/license"
APPLICATION = "/rest/api/latest/application-properties"
PENDING, ACCEPTED = "PENDING", "ACCEPTED"
NO_CREATED_DATE = "the primary gives mirroring requests no creation date"


class _OutcomeUnknown(Exception):
    """An accept whose answer was lost: it may or may not have happened."""

    def __init__(self, cause: BitbucketError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class MirrorApprovalArgs:
    primary_url: pulumi.Input[str]
    base_url: pulumi.Input[str]
    timeout_s: pulumi.Input[int] = 1800
    ca_bundle: Optional[pulumi.Input[str]] = None
    expected_type: Optional[pulumi.Input[str]] = None  # SINGLE or FARM; a mismatch is reported
    # The zone of the first node's home, and the mirror's generation (MirrorGeneration): a new one is
    # a new mirror (a new, empty home in another zone or region; a new setup), so the approval of the
    # old one is removed and the new one approved. A home restored from its snapshot (a new volume
    # in the same zone) holds the same mirror: the approval stays. None: not tracked.
    home_zone: Optional[pulumi.Input[str]] = None
    generation: Optional[pulumi.Input[str]] = None
    # What the installed mirror calls itself (its setup.displayName) and the Bitbucket version it was
    # installed with: they tie its request to it when it reports no Server ID. None: not used.
    display_name: Optional[pulumi.Input[str]] = None
    version: Optional[pulumi.Input[str]] = None
    # The config key of timeout_s, named when the wait runs out (it decides nothing).
    timeout_key: Optional[str] = None


@dataclass(frozen=True)
class MirrorIdentity:
    """What the mirror at the base URL says about itself."""

    server_id: Optional[str] = None
    version: Optional[str] = None
    problem: str = ""  # why it said less (for messages)

    @property
    def answered(self) -> bool:
        return bool(self.server_id or self.version)


class MirrorApprovalProvider(BitbucketProvider):
    url_inputs = ("primary_url", "base_url")
    poll_interval_s: float = 1.0  # one request to the primary per interval while waiting
    progress_every_s: float = 30.0
    # Asking the mirror who it is: a short wait with one retry, as it is asked again the next time
    # a decision needs it, and the approval's own deadline must not go to a mirror that hangs.
    identify_budget_s: float = 10.0
    identify_retries: int = 1

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = self.url_failures(news)
        timeout = news.get("timeout_s")
        if not is_unknown(timeout) and (not isinstance(timeout, (int, float)) or timeout <= 0):
            failures.append(CheckFailure("timeout_s", "expected a positive number of seconds"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [
            k for k in ("primary_url", "base_url") if is_unknown(news.get(k)) or _url(olds.get(k)) != _url(news.get(k))
        ]
        # A state from before these were tracked records them without replacing anything (earlier
        # states tied the approval to the home volume's id, `mirror_home`: dropped, not compared).
        for key in ("home_zone", "generation"):
            if olds.get(key) is not None and (is_unknown(news.get(key)) or olds.get(key) != news.get(key)):
                replaces.append(key)
        others = any(
            olds.get(k) != news.get(k) for k in ("timeout_s", "ca_bundle", "expected_type", "home_zone", "generation")
        )
        # The display name: an update once the state has it (a new one is a new mirror, which the
        # generation replaces). The version only ties a request at the accept: an upgrade changes
        # nothing here.
        others = others or ("display_name" in olds and olds.get("display_name") != news.get("display_name"))
        return DiffResult(changes=bool(replaces) or others, replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            server = self.approve(
                client,
                props["base_url"],
                float(props.get("timeout_s") or 1800),
                props.get("expected_type"),
                display_name=props.get("display_name"),
                version=props.get("version"),
                timeout_key=props.get("timeout_key"),
                identify=lambda deadline: self.identify(props["base_url"], props.get("ca_bundle"), deadline),
            )
        return CreateResult(server.id, self._outputs(props, server))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            try:
                server = client.get(f"{SERVERS}/{quote(id_, safe='')}", expect=RestMirrorServer)
            except NotFound:
                return ReadResult(None, {})  # removed on the primary: refresh shows it gone
        return ReadResult(id_, self._outputs(props, server))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client(news["primary_url"], news.get("ca_bundle")) as client:
            try:
                server = client.get(f"{SERVERS}/{quote(id_, safe='')}", expect=RestMirrorServer)
            except NotFound:
                raise MirrorGone(
                    f"mirror {id_} ({news.get('base_url')}) was removed on the primary; run "
                    "`pulumi refresh` and `pulumi up` to approve it again"
                ) from None
        return UpdateResult(self._outputs(news, server))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            try:
                client.delete(f"{SERVERS}/{quote(id_, safe='')}")
                say(f"removed mirror {id_} ({props.get('base_url')}) from {props['primary_url']}")
            except NotFound:
                pass  # already removed: the goal of a delete

    # --- who the mirror is ------------------------------------------------------------------
    def identify(self, base_url: str, ca_bundle: Optional[str], deadline: Deadline) -> MirrorIdentity:
        """Ask the mirror at its base URL for its Server ID, else its version. Never raises: a
        mirror that cannot say is a weaker tie, not an error."""
        bound = deadline.within(self.identify_budget_s)
        problems = []
        with self.client(base_url, ca_bundle, retries=self.identify_retries) as mirror:
            try:
                server_id = mirror.get(LICENSE, deadline=bound, expect=RestBitbucketLicense).server_id
                if server_id:
                    return MirrorIdentity(server_id=server_id)
                problems.append(f"{mirror.base_url}{LICENSE} gave no serverId")
            except BitbucketError as exc:
                problems.append(_short(exc))
            try:
                version = mirror.get(APPLICATION, deadline=bound, expect=RestApplicationProperties).version
            except BitbucketError as exc:
                problems.append(_short(exc))
                version = None
        return MirrorIdentity(version=version, problem="; ".join(problems))

    # --- the approval loop ------------------------------------------------------------------
    def approve(
        self,
        client: BitbucketClient,
        base_url: str,
        timeout_s: float,
        expected_type: Optional[str] = None,
        *,
        display_name: Optional[str] = None,
        version: Optional[str] = None,
        timeout_key: Optional[str] = None,
        identify: Optional[Callable[[Deadline], MirrorIdentity]] = None,
    ) -> RestMirrorServer:
        target = normalise_base_url(base_url)
        deadline = Deadline(timeout_s)
        identity: Optional[MirrorIdentity] = None

        def who() -> MirrorIdentity:
            # Asked until the mirror answers (it may still be starting), then known for good.
            nonlocal identity
            if identify is not None and (identity is None or not identity.answered):
                identity = identify(deadline)
            return identity or MirrorIdentity(problem="not asked")

        others: set[str] = set()
        known_accepted: set[int] = set()
        untied: list[RestMirroringRequest] = []  # pending for the URL, not this mirror's
        problem: Optional[BitbucketError] = None  # what the last round failed on (None: it worked)
        accept_lost = False
        last_report = 0.0
        # Each round makes one request to the primary: the approved mirrors when they may hold ours
        # (at the start, after an accept whose answer was lost, when an accepted request for the URL
        # shows up), otherwise the list of requests.
        check_servers = True
        while True:
            checking = check_servers
            try:
                if check_servers:
                    check_servers = False
                    server = self._approved(client, target, who(), deadline)
                    if server is not None:
                        say(f"mirror {base_url} is approved on the primary (id {server.id})")
                        return server
                else:
                    requests = list(client.iter_paged(REQUESTS, item=RestMirroringRequest, deadline=deadline))
                    untied = []
                    mine = [r for r in requests if _same_url(r.mirrorBaseUrl, target)]
                    others |= {r.mirrorBaseUrl for r in requests if r.state == PENDING and r not in mine}
                    accepted = {r.id for r in mine if r.state == ACCEPTED} - known_accepted
                    pending = [r for r in mine if r.state == PENDING]
                    if accepted:
                        # Someone approved it (or our answer was lost); an older incarnation of the
                        # URL leaves accepted requests too, so the approved mirrors decide.
                        known_accepted |= accepted
                        check_servers = True
                    elif pending:
                        ours, how = self._tie(pending, who(), display_name, version, base_url)
                        untied = [r for r in pending if r is not ours]
                        if ours is not None:
                            return self._accept(client, ours, base_url, expected_type, how, deadline)
                problem = None
            except _OutcomeUnknown as lost:
                accept_lost, problem, check_servers = True, lost.cause, True
            except Conflict:
                problem, check_servers = None, True  # accepted, rejected or deleted meanwhile: read what happened
            except DeadlineExceeded:
                pass  # not sent, the time being up: what the rounds before found is what to report
            except (ServerUnavailable, Unreachable) as exc:
                if problem is None or str(problem) != str(exc):
                    say(f"the primary did not answer as expected ({exc}); reading its state again")
                problem, check_servers = exc, check_servers or checking
            if deadline.passed:
                if untied:
                    raise ApprovalRefused(
                        _refusal(
                            base_url,
                            untied,
                            identity or MirrorIdentity(problem="not asked"),
                            display_name,
                            deadline.elapsed,
                        )
                    )
                raise ApprovalTimeout(
                    _timeout_message(base_url, deadline.elapsed, others, problem, accept_lost)
                    + (f" (A mirror that is slow to start: raise {timeout_key}.)" if timeout_key else "")
                )
            if deadline.elapsed - last_report >= self.progress_every_s:
                last_report = deadline.elapsed
                not_ours = (
                    f"; {len(untied)} pending request(s) for this URL are not from this mirror and are left alone"
                    if untied
                    else ""
                )
                say(
                    f"waiting for the mirroring request of {base_url} on the primary "
                    f"({deadline.elapsed:.0f}s of {timeout_s:.0f}s{not_ours})"
                )
            deadline.sleep(self.poll_interval_s)

    @staticmethod
    def _tie(
        pending: list[RestMirroringRequest],
        identity: MirrorIdentity,
        display_name: Optional[str],
        version: Optional[str],
        base_url: str,
    ) -> tuple[Optional[RestMirroringRequest], str]:
        """The one pending request tied to the mirror, and how; ApprovalRefused when several are."""
        if identity.server_id:
            ours = [r for r in pending if r.mirrorId == identity.server_id]
            how = f"the server ID {identity.server_id} the mirror reports"
        else:
            wanted_version = identity.version or version
            ours = [
                r
                for r in pending
                if (display_name is None or r.mirrorName == display_name)
                and (wanted_version is None or r.productVersion == wanted_version)
            ]
            tied_by = [
                f"name {display_name!r}" if display_name is not None else "",
                f"version {wanted_version}" if wanted_version else "",
            ]
            how = (
                " and ".join(t for t in tied_by if t) or "being the only pending request for its base URL"
            ) + f" (the mirror reported no server ID: {identity.problem or 'not asked'})"
        if len(ours) > 1:
            raise ApprovalRefused(
                f"refusing to approve a mirror for {base_url}: {len(pending)} pending requests claim this base URL "
                f"and {len(ours)} of them match the mirror this stack installed by {how}, so none can be told to be "
                f"its. Nothing was accepted. {_listing(pending)}. An admin decides: authorize the right one in "
                "Administration > Mirrors on the primary and reject the others; the next `pulumi up` adopts it"
            )
        return (ours[0] if ours else None), how

    @staticmethod
    def _accept(
        client: BitbucketClient,
        request: RestMirroringRequest,
        base_url: str,
        expected_type: Optional[str],
        how: str,
        deadline: Deadline,
    ) -> RestMirrorServer:
        if expected_type and request.mirrorType != expected_type:
            say(
                f"the request from {base_url} is a {request.mirrorType} mirror, "
                f"expected {expected_type}; accepting it anyway"
            )
        path = f"{REQUESTS}/{request.id}/accept"
        try:
            server = client.post(path, deadline=deadline, expect=RestMirrorServer)
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
        say(
            f"accepted the mirroring request {request.id} from {base_url} (mirror id {request.mirrorId}, "
            f"name {request.mirrorName!r}, version {request.productVersion}), tied to the mirror by {how}"
        )
        return server

    @staticmethod
    def _approved(
        client: BitbucketClient, target: str, identity: MirrorIdentity, deadline: Deadline
    ) -> Optional[RestMirrorServer]:
        """The approved mirror for the base URL; when the mirror reports its Server ID, only the one
        with that id (an older incarnation, or another server, approved for the URL is not ours)."""
        for server in client.iter_paged(SERVERS, item=RestMirrorServer, deadline=deadline):
            if _same_url(server.baseUrl, target) and identity.server_id in (None, server.id):
                return server
        return None

    @staticmethod
    def _outputs(props: dict[str, Any], server: RestMirrorServer) -> dict[str, Any]:
        inputs = {k: props.get(k) for k in input_names(MirrorApprovalArgs)}
        return {**inputs, "mirror_id": server.id, "mirror_name": server.name, "mirror_type": server.mirrorType}


def _url(value: Any) -> Any:
    return normalise_base_url(value) if isinstance(value, str) else value


def _same_url(claimed: str, target: str) -> bool:
    try:
        return normalise_base_url(claimed) == target
    except ValueError:  # a request whose URL does not even parse (a port out of range) is not ours
        return False


def _short(exc: BitbucketError) -> str:
    return str(exc).split(" (hint:")[0]


def _shown(value: Optional[str]) -> str:
    # Requests are written by whoever sent them: quoted and cut, so no control character or page of
    # text reaches the terminal.
    return "none given" if value is None else repr(value[:100])


def _listing(requests: list[RestMirroringRequest]) -> str:
    rows = [
        f"request {r.id}: name {_shown(r.mirrorName)}, address {_shown(r.mirrorBaseUrl)}, "
        f"mirror id {_shown(r.mirrorId)}, version {_shown(r.productVersion)}"
        for r in requests
    ]
    return f"Pending requests ({NO_CREATED_DATE}): " + "; ".join(rows)


def _refusal(
    base_url: str,
    untied: list[RestMirroringRequest],
    identity: MirrorIdentity,
    display_name: Optional[str],
    waited: float,
) -> str:
    if identity.server_id:
        why = f"none has the server ID the mirror at {base_url} reports ({identity.server_id}) as its mirror id"
    else:
        why = (
            f"none matches the mirror at {base_url} by name {display_name!r} and version "
            f"{identity.version or 'unknown'} (it reported no server ID: {identity.problem or 'not asked'})"
        )
    return (
        f"refusing to approve a mirror for {base_url}: within {waited:.0f}s only requests that are not from the "
        f"mirror this stack installed claimed this base URL ({why}). Nothing was accepted. {_listing(untied)}. "
        "An admin decides: reject those that are not this mirror in Administration > Mirrors on the primary, "
        f"check that the mirror at {base_url} started and registered with this primary, and run `pulumi up` again"
    )


def _timeout_message(
    base_url: str, waited: float, others: set[str], problem: Optional[BitbucketError], accept_lost: bool
) -> str:
    if accept_lost:
        last = f"; the last answer was: {problem}" if problem is not None else ""
        return (
            f"an accept of the mirroring request from {base_url} was sent but its answer was lost, and within "
            f"{waited:.0f}s the primary did not show the mirror approved{last}. Run `pulumi refresh` and "
            "`pulumi up`: they adopt the mirror if the accept happened, and accept its request if not"
        )
    if problem is not None:
        # Every round since the last good one failed: say what the primary answered, not that no
        # request was seen (none could be).
        return (
            f"the primary did not answer as expected within {waited:.0f}s, so nothing from {base_url} was "
            f"accepted: its last answer was: {problem}"
        )
    seen = (
        f" Pending requests seen, from other base URLs (left untouched): {', '.join(sorted(map(_shown, others)))}."
        if others
        else " No pending request was seen at all."
    )
    return (
        f"no mirroring request from {base_url} appeared on the primary within {waited:.0f}s; nothing was "
        f"accepted.{seen} Check that the mirror started (its /status), that setup.baseUrl is exactly "
        f"{base_url}, and that the mirror reaches the primary on 443."
    )


class MirrorApproval(Resource, module="bitbucket", name="MirrorApproval"):
    mirror_id: pulumi.Output[str]
    mirror_name: pulumi.Output[str]
    mirror_type: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorApprovalArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            MirrorApprovalProvider(),
            name,
            {**inputs_of(args), "mirror_id": None, "mirror_name": None, "mirror_type": None},
            opts,
        )
