"""MirrorApproval: accept the mirror's request on the primary, as an admin would click Authorize
(README "Resources, per site"). Deleting it removes the mirror from the primary.

Only the request of the mirror this stack installed is accepted. Any server can send the primary
a request naming our base URL, our display name and our version, so none of those ties anything:
the mirror is asked who it is, through its base URL, and only its Server ID
(`GET /rest/api/latest/admin/license`, `status.serverId`; docs/bitbucket-facts.md §1) decides. The
vendor's document gives a request that id as `mirrorId` and an approved mirror as `id`: only the
request with that `mirrorId` is accepted (providers/approval_choice.py), only the approved mirror
with that `id` adopted. While the mirror cannot say it (its name does not resolve yet, it is still
starting, `admin/license` answers 404), nothing is accepted: it is asked again every round, and
the wait says why every 30 s until it answers or the deadline ends.

Exactly one request tied: accepted, and the accept's answer must name that request's mirror id and
base URL, else the approved mirrors are read again and the approval fails saying what the primary
holds (nothing is recorded, so no destroy can remove another mirror). Several: nothing is accepted
and all are listed for an admin to decide. None tied while others claim the URL: waited for until
the deadline, then refused, listed. A destroy removes only the mirror id recorded here, after
reading it back and finding it at the base URL.

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

from . import approval_messages as messages
from .answers import RestBitbucketLicense, RestMirrorServer
from .approval_rounds import (  # noqa: F401 (re-exported: this module's names before the rounds moved out)
    ACCEPTED,
    LICENSE,
    PENDING,
    REQUESTS,
    SERVERS,
    ApprovalRounds,
    MirrorIdentity,
    same_url,
)
from .base import BitbucketProvider, input_names, inputs_of, is_unknown, say
from .clock import Deadline, poll_until

if TYPE_CHECKING:  # the client (requests) loads when a call needs it, not when the program does
    from .client import BitbucketClient
from .errors import (  # noqa: F401 (re-exported: tests and callers import the approval's errors from here)
    ApprovalMismatch,
    ApprovalRefused,
    ApprovalTimeout,
    BitbucketError,
    DeadlineExceeded,
    MirrorGone,
    NotFound,
    NotOurMirror,
)
from .messages import shown
from .urls import normalise_base_url

NO_CREATED_DATE = messages.NO_CREATED_DATE


@dataclass
class MirrorApprovalArgs:
    """Which mirror is approved on which primary, and how long the approval may wait."""

    # The primary the mirror is approved on (compared normalised): a change replaces the approval,
    # delete before create (the old primary's approval removed first).
    primary_url: pulumi.Input[str]
    # The mirror's base URL (compared normalised): the requests considered are those for it, and the
    # mirror is asked its Server ID there. A change replaces the approval, delete before create.
    base_url: pulumi.Input[str]
    # How long create waits for the mirror's request before ApprovalTimeout; a change is an update.
    timeout_s: pulumi.Input[int] = 1800
    # A PEM bundle trusted for both servers' certificates besides the system's (None: the system's);
    # a change is an update.
    ca_bundle: Optional[pulumi.Input[str]] = None
    # SINGLE or FARM: a request of the other type is reported, and accepted anyway; a change is an update.
    expected_type: Optional[pulumi.Input[str]] = None
    # The zone of the first node's home, and the mirror's generation (MirrorGeneration): a new one is
    # a new mirror (a new, empty home in another zone or region; a new setup), so the approval of the
    # old one is removed and the new one approved. A home restored from its snapshot (a new volume
    # in the same zone) holds the same mirror: the approval stays. None: not tracked.
    home_zone: Optional[pulumi.Input[str]] = None
    generation: Optional[pulumi.Input[str]] = None
    # What the installed mirror calls itself (its setup.displayName) and the Bitbucket version it was
    # installed with. Recorded, never a tie: a rogue request can copy both.
    display_name: Optional[pulumi.Input[str]] = None
    version: Optional[pulumi.Input[str]] = None
    # The config key of timeout_s, named when the wait runs out (it decides nothing).
    timeout_key: Optional[str] = None


class MirrorApprovalProvider(BitbucketProvider):
    """The mirror's approval on the primary (module docstring: what ties a request to the mirror).

    - check: both URLs plain https, timeout_s a positive number.
    - diff: another primary URL or base URL, or (once recorded) another home zone or generation,
      replaces it, delete before create: the old mirror's approval is removed, the new one approved.
      Timeout, CA bundle, expected type and a recorded display name are an update; the version never
      changes anything.
    - create: waits (providers/approval_rounds.py) until the request whose mirrorId is the Server ID
      the mirror reports is accepted, or that mirror is found approved (adopted: an admin was first,
      or an earlier answer was lost); several such requests, or only others for the URL, are refused,
      listed. At the deadline, ApprovalTimeout or ApprovalRefused saying what the primary holds.
    - read: the approved mirror with the recorded id (gone: removed on the primary).
    - update: reads it back (gone: MirrorGone, approve again after a refresh); nothing is written.
    - delete: removes the recorded mirror id, only once read back at its base URL (else NotOurMirror,
      nothing removed); a mirror already removed is the goal reached: safe to repeat.
    """

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
        """Remove the mirror id this stack recorded, once read back as the mirror at its base URL: an
        id that names another mirror now (a state edited, an id reused) is refused, not removed."""
        recorded = props.get("mirror_id")
        if recorded not in (None, id_):
            raise NotOurMirror(
                f"refusing to remove mirror {shown(id_)} from {props['primary_url']}: the state records mirror "
                f"{shown(recorded)} for {props.get('base_url')}. Nothing was removed; remove it in Administration "
                "> Mirrors on the primary if it is this stack's"
            )
        path = f"{SERVERS}/{quote(id_, safe='')}"
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            try:
                server = client.get(path, expect=RestMirrorServer)
                if server.id != id_ or not _same_url(server.baseUrl, _url(props["base_url"])):
                    raise NotOurMirror(
                        f"refusing to remove mirror {shown(id_)} from {props['primary_url']}: the primary lists it "
                        f"as mirror {shown(server.id)} at {shown(server.baseUrl)}, not at {props.get('base_url')}, "
                        "so it is not the mirror this stack approved. Nothing was removed; remove it in "
                        "Administration > Mirrors on the primary if it is this stack's"
                    )
                client.delete(path)
                say(f"removed mirror {id_} ({props.get('base_url')}) from {props['primary_url']}")
            except NotFound:
                pass  # already removed: the goal of a delete

    # --- who the mirror is ------------------------------------------------------------------
    def identify(self, base_url: str, ca_bundle: Optional[str], deadline: Deadline) -> MirrorIdentity:
        """Ask the mirror at its base URL for its Server ID. Never raises: a mirror that cannot say
        yet is asked again; `problem` says why it did not."""
        bound = deadline.within(self.identify_budget_s)
        with self.client(base_url, ca_bundle, retries=self.identify_retries) as mirror:
            try:
                server_id = mirror.get(LICENSE, deadline=bound, expect=RestBitbucketLicense).server_id
            except BitbucketError as exc:
                return MirrorIdentity(problem=_short(exc), cut_short=bound.passed or isinstance(exc, DeadlineExceeded))
            if not server_id:
                return MirrorIdentity(problem=f"{mirror.base_url}{LICENSE} gave no serverId")
        return MirrorIdentity(server_id=server_id)

    # --- the approval's wait ---------------------------------------------------------------
    def approve(
        self,
        client: BitbucketClient,
        base_url: str,
        timeout_s: float,
        expected_type: Optional[str] = None,
        *,
        timeout_key: Optional[str] = None,
        identify: Optional[Callable[[Deadline], MirrorIdentity]] = None,
    ) -> RestMirrorServer:
        """Rounds on the primary (providers/approval_rounds.py), one every poll_interval_s, until the
        mirror's own request is accepted or its approved mirror found; at the deadline, an error
        saying what the rounds saw."""
        normalise_base_url(base_url)  # a base URL that does not parse fails here, before any round
        deadline = Deadline(timeout_s)
        rounds = ApprovalRounds(client, base_url, deadline, expected_type, identify)
        return poll_until(
            deadline,
            rounds.round,
            every=self.poll_interval_s,
            timed_out=lambda _: rounds.ended(timeout_key),
            progress=lambda _: say(rounds.progress()),
            progress_every=self.progress_every_s,
        )

    @staticmethod
    def _outputs(props: dict[str, Any], server: RestMirrorServer) -> dict[str, Any]:
        inputs = {k: props.get(k) for k in input_names(MirrorApprovalArgs)}
        return {**inputs, "mirror_id": server.id, "mirror_name": server.name, "mirror_type": server.mirrorType}


def _url(value: Any) -> Any:
    return normalise_base_url(value) if isinstance(value, str) else value


_same_url = same_url


def _short(exc: BitbucketError) -> str:
    return str(exc).split(" (hint:")[0]


class MirrorApproval(Resource, module="bitbucket", name="MirrorApproval"):
    """A mirror approved on the primary: `mirror_id` is the primary's id of it, what a delete removes."""

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
