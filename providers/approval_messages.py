"""What MirrorApproval says when it accepts nothing: each message names what was seen, why none of
it is the mirror this stack installed, and what an admin does next. Every value a request or an
answer carries is echoed through messages.shown (quoted and cut)."""

from __future__ import annotations

from typing import Optional

from .answers import RestMirroringRequest, RestMirrorServer
from .errors import BitbucketError
from .messages import shown

NO_CREATED_DATE = "the primary gives mirroring requests no creation date"
# Requests are listed up to this many: a primary flooded with requests does not flood the message.
LISTED = 20
ADMIN_DECIDES = (
    "An admin decides: authorize the right one in Administration > Mirrors on the primary and reject the "
    "others; the next `pulumi up` adopts it"
)


def listing(requests: tuple[RestMirroringRequest, ...] | list[RestMirroringRequest]) -> str:
    rows = [
        f"request {r.id}: name {shown(r.mirrorName)}, address {shown(r.mirrorBaseUrl)}, "
        f"mirror id {shown(r.mirrorId)}, version {shown(r.productVersion)}"
        for r in list(requests)[:LISTED]
    ]
    more = f"; and {len(requests) - LISTED} more" if len(requests) > LISTED else ""
    return f"Pending requests ({NO_CREATED_DATE}): " + "; ".join(rows) + more


def ambiguous(base_url: str, server_id: str, pending: list[RestMirroringRequest], matching: int) -> str:
    return (
        f"refusing to approve a mirror for {base_url}: {len(pending)} pending requests claim this base URL and "
        f"{matching} of them carry the server ID {shown(server_id)} the mirror reports, so none can be told to be "
        f"its. Nothing was accepted. {listing(pending)}. {ADMIN_DECIDES}"
    )


def untied(base_url: str, server_id: str, requests: tuple[RestMirroringRequest, ...], waited: float) -> str:
    return (
        f"refusing to approve a mirror for {base_url}: within {waited:.0f}s only requests that are not from the "
        f"mirror this stack installed claimed this base URL (none has the server ID the mirror at {base_url} "
        f"reports, {shown(server_id)}, as its mirror id). Nothing was accepted. {listing(requests)}. An admin "
        "decides: reject those that are not this mirror in Administration > Mirrors on the primary, check that "
        f"the mirror at {base_url} started and registered with this primary, and run `pulumi up` again"
    )


def unproven(base_url: str, problem: str, requests: tuple[RestMirroringRequest, ...], waited: float) -> str:
    seen = f" {listing(requests)}." if requests else " No pending request for it was seen."
    return (
        f"the mirror at {base_url} could not say its server ID within {waited:.0f}s ({problem}), so no request "
        "could be proven to be its, and nothing was accepted: a request is accepted only when its mirror id is "
        f"the server ID the mirror itself reports at {base_url}/rest/api/latest/admin/license.{seen} Check that "
        f"{base_url} resolves and reaches the mirror from this machine and that the mirror has started, then "
        "run `pulumi up` again"
    )


def accept_mismatch(
    base_url: str,
    request: RestMirroringRequest,
    answered: RestMirrorServer,
    recorded: Optional[RestMirrorServer],
) -> str:
    now = (
        f"the primary lists mirror {shown(recorded.id)} at {shown(recorded.baseUrl)} now"
        if recorded is not None
        else f"the primary lists no approved mirror with id {shown(request.mirrorId)} for {base_url}"
    )
    return (
        f"the primary answered the accept of request {request.id} (mirror id {shown(request.mirrorId)}, "
        f"{base_url}) with mirror {shown(answered.id)} at {shown(answered.baseUrl)}, which is not that request's "
        f"mirror; {now}. Nothing was recorded, so no later destroy can remove another mirror. Check "
        "Administration > Mirrors on the primary; `pulumi refresh` and `pulumi up` adopt the mirror only "
        "by the server ID it reports"
    )


def timeout(base_url: str, waited: float, others: set[str], problem: Optional[BitbucketError], lost: bool) -> str:
    if lost:
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
    listed = sorted(map(shown, others))
    more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
    seen = (
        f" Pending requests seen, from other base URLs (left untouched): {', '.join(listed[:10])}{more}."
        if others
        else " No pending request was seen at all."
    )
    return (
        f"no mirroring request from {base_url} appeared on the primary within {waited:.0f}s; nothing was "
        f"accepted.{seen} Check that the mirror started (its /status), that setup.baseUrl is exactly "
        f"{base_url}, and that the mirror reaches the primary on 443."
    )
