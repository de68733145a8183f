"""MirrorApproval: accept the mirror's request on the primary, as an admin would click Authorize
(README "Resources, per site"). Deleting it removes the mirror from the primary.

The accept is a POST whose outcome can be lost (a dropped connection, a 5xx from a proxy): it is
never replayed blindly. Before any accept, and again after one whose answer was lost, it looks for
an approved mirror with the base URL, so a lost answer, a crashed run or an admin who clicked
first all end in adopting that mirror. Requests for other base URLs are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from . import clock
from .base import BitbucketProvider, Deadline, input_names, inputs_of, is_unknown, say
if TYPE_CHECKING:   # the client (requests) loads when a call needs it, not when the program does
    from .client import BitbucketClient
from .errors import Conflict, NotFound, ServerUnavailable, Unreachable
from .urls import https_problem, normalise_base_url

REQUESTS = "/rest/mirroring/latest/requests"
SERVERS = "/rest/mirroring/latest/mirrorServers"


class ApprovalTimeout(Exception):
    pass


class MirrorGone(Exception):
    pass


class _OutcomeUnknown(Exception):
    """An accept whose answer was lost: it may or may not have happened."""


@dataclass
class MirrorApprovalArgs:
    primary_url: pulumi.Input[str]
    base_url: pulumi.Input[str]
    timeout_s: pulumi.Input[int] = 1800
    ca_bundle: Optional[pulumi.Input[str]] = None
    expected_type: Optional[pulumi.Input[str]] = None   # SINGLE or FARM; a mismatch is reported
    # The first node's home volume, and the mirror's generation (MirrorGeneration): a new one is a new
    # mirror (a new setup, a new request), so the approval of the old one is removed and the new one
    # approved. None: not tracked.
    mirror_home: Optional[pulumi.Input[str]] = None
    generation: Optional[pulumi.Input[str]] = None


class MirrorApprovalProvider(BitbucketProvider):
    poll_interval_s: float = 1.0   # one request to the primary per interval while waiting
    progress_every_s: float = 30.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for key in ("primary_url", "base_url"):
            if not is_unknown(news.get(key)) and https_problem(news.get(key)):
                failures.append(CheckFailure(key, https_problem(news.get(key)) or ""))
        timeout = news.get("timeout_s")
        if not is_unknown(timeout) and (not isinstance(timeout, (int, float)) or timeout <= 0):
            failures.append(CheckFailure("timeout_s", "expected a positive number of seconds"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("primary_url", "base_url")
                    if is_unknown(news.get(k)) or _url(olds.get(k)) != _url(news.get(k))]
        # A state from before these were tracked records them without replacing anything.
        for key in ("mirror_home", "generation"):
            if olds.get(key) is not None and (is_unknown(news.get(key)) or olds.get(key) != news.get(key)):
                replaces.append(key)
        others = any(olds.get(k) != news.get(k)
                     for k in ("timeout_s", "ca_bundle", "expected_type", "mirror_home", "generation"))
        return DiffResult(changes=bool(replaces) or others, replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            server = self.approve(client, props["base_url"], float(props.get("timeout_s") or 1800),
                                  props.get("expected_type"))
        return CreateResult(server["id"], self._outputs(props, server))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            try:
                server = client.get(f"{SERVERS}/{id_}")
            except NotFound:
                return ReadResult(None, {})   # removed on the primary: refresh shows it gone
        return ReadResult(id_, self._outputs(props, server))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client(news["primary_url"], news.get("ca_bundle")) as client:
            try:
                server = client.get(f"{SERVERS}/{id_}")
            except NotFound:
                raise MirrorGone(f"mirror {id_} ({news.get('base_url')}) was removed on the primary; run "
                                 "`pulumi refresh` and `pulumi up` to approve it again") from None
        return UpdateResult(self._outputs(news, server))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.client(props["primary_url"], props.get("ca_bundle")) as client:
            try:
                client.delete(f"{SERVERS}/{id_}")
                say(f"removed mirror {id_} ({props.get('base_url')}) from {props['primary_url']}")
            except NotFound:
                pass  # already removed: the goal of a delete

    # --- the approval loop ------------------------------------------------------------------
    def approve(self, client: BitbucketClient, base_url: str, timeout_s: float,
                expected_type: Optional[str] = None) -> dict:
        target = normalise_base_url(base_url)
        deadline = Deadline(timeout_s)
        others: set[str] = set()
        known_accepted: set[int] = set()
        last_report = 0.0
        # Each round makes one request: the approved mirrors when they may hold ours (at the start,
        # after an accept whose answer was lost, when an accepted request for the URL shows up),
        # otherwise the list of requests.
        check_servers = True
        while True:
            try:
                if check_servers:
                    check_servers = False
                    server = self._approved(client, target)
                    if server is not None:
                        say(f"mirror {base_url} is approved on the primary (id {server['id']})")
                        return server
                else:
                    requests = list(client.iter_paged(REQUESTS))
                    mine = [r for r in requests if normalise_base_url(r.get("mirrorBaseUrl", "")) == target]
                    others |= {r.get("mirrorBaseUrl", "") for r in requests
                               if r.get("state") == "PENDING" and r not in mine}
                    accepted = {r["id"] for r in mine if r.get("state") == "ACCEPTED"} - known_accepted
                    pending = [r for r in mine if r.get("state") == "PENDING"]
                    if accepted:
                        # Someone approved it (or our answer was lost); an older incarnation of the
                        # URL leaves accepted requests too, so the approved mirrors decide.
                        known_accepted |= accepted
                        check_servers = True
                    elif pending:
                        return self._accept(client, max(pending, key=lambda r: r["id"]), base_url, expected_type)
            except _OutcomeUnknown:
                check_servers = True
            except Conflict:
                check_servers = True  # accepted, rejected or deleted meanwhile: read what happened
            except (ServerUnavailable, Unreachable) as exc:
                say(f"the primary did not answer ({exc.status or 'no answer'}); reading its state again")
            if deadline.passed:
                raise ApprovalTimeout(_timeout_message(base_url, deadline.elapsed, others))
            if deadline.elapsed - last_report >= self.progress_every_s:
                last_report = deadline.elapsed
                say(f"waiting for the mirroring request of {base_url} on the primary "
                    f"({deadline.elapsed:.0f}s of {timeout_s:.0f}s)")
            clock.sleep(self.poll_interval_s)

    @staticmethod
    def _accept(client: BitbucketClient, request: dict, base_url: str, expected_type: Optional[str]) -> dict:
        if expected_type and request.get("mirrorType") != expected_type:
            say(f"the request from {base_url} is a {request.get('mirrorType')} mirror, "
                f"expected {expected_type}; accepting it anyway")
        try:
            server = client.post(f"{REQUESTS}/{request['id']}/accept")
        except (ServerUnavailable, Unreachable) as exc:
            raise _OutcomeUnknown() from exc
        say(f"accepted the mirroring request {request['id']} from {base_url}")
        return server

    @staticmethod
    def _approved(client: BitbucketClient, target: str) -> Optional[dict]:
        return next((s for s in client.iter_paged(SERVERS) if normalise_base_url(s.get("baseUrl", "")) == target), None)

    @staticmethod
    def _outputs(props: dict[str, Any], server: dict) -> dict[str, Any]:
        inputs = {k: props.get(k) for k in input_names(MirrorApprovalArgs)}
        return {**inputs, "mirror_id": server["id"], "mirror_name": server.get("name"),
                "mirror_type": server.get("mirrorType")}


def _url(value: Any) -> Any:
    return normalise_base_url(value) if isinstance(value, str) else value


def _timeout_message(base_url: str, waited: float, others: set[str]) -> str:
    seen = (f" Pending requests seen, from other base URLs (left untouched): {', '.join(sorted(others))}."
            if others else " No pending request was seen at all.")
    return (f"no mirroring request from {base_url} appeared on the primary within {waited:.0f}s; nothing was "
            f"accepted.{seen} Check that the mirror started (its /status), that setup.baseUrl is exactly "
            f"{base_url}, and that the mirror reaches the primary on 443.")


class MirrorApproval(Resource, module="bitbucket", name="MirrorApproval"):
    mirror_id: pulumi.Output[str]
    mirror_name: pulumi.Output[str]
    mirror_type: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorApprovalArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(MirrorApprovalProvider(), name,
                         {**inputs_of(args), "mirror_id": None, "mirror_name": None, "mirror_type": None}, opts)
