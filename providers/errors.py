"""Typed errors of the Bitbucket REST client. Messages name the method, URL, status and a hint,
and never a credential (they end up in `pulumi up` output and CI logs)."""
from __future__ import annotations

from typing import Optional

HINTS = {
    401: "the primary refused the credentials: check bitbucket-mirrors:primary.username and primaryPassword "
         "(or BITBUCKET_USERNAME / BITBUCKET_PASSWORD); on a mirror, the user also needs SYS_ADMIN",
    403: "the user is authenticated but lacks SYS_ADMIN, which approving mirrors and selecting projects need",
    409: "the server reported a conflict (for mirroring requests: unknown or no longer pending; "
         "a registration conflict usually means the primary lacks a Data Center licence)",
}
MIRRORING_404 = ("the mirroring REST API is missing: the primary is not Bitbucket Data Center, is older than "
                 "the mirroring API this tool uses (9.0), or the mirror has no approved upstream yet")


class BitbucketError(Exception):
    def __init__(self, method: str, url: str, status: Optional[int], detail: str = "", hint: str = ""):
        self.method, self.url, self.status, self.detail, self.hint = method, url, status, detail, hint
        where = f"{method} {url}"
        text = f"{where} answered {status}" if status is not None else f"{where} failed"
        if detail:
            text += f": {detail}"
        if hint:
            text += f" (hint: {hint})"
        super().__init__(text)


class AuthenticationError(BitbucketError):
    pass


class PermissionDenied(BitbucketError):
    pass


class NotFound(BitbucketError):
    pass


class Conflict(BitbucketError):
    pass


class BadRequest(BitbucketError):
    pass


class ServerUnavailable(BitbucketError):
    """5xx or 429 after the retries ran out."""


class Unreachable(BitbucketError):
    """No HTTP answer: connection refused or dropped, timeout, or TLS verification failed."""


def for_status(method: str, url: str, status: int, detail: str, path: str) -> BitbucketError:
    hint = HINTS.get(status, "")
    if status == 404 and "/rest/mirroring/" in path:
        hint = MIRRORING_404
    kind = {400: BadRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound, 409: Conflict}.get(
        status, ServerUnavailable if status >= 500 or status == 429 else BitbucketError)
    return kind(method, url, status, detail, hint)


class RolloutError(Exception):
    """A rollout step could not finish: a node did not drain, return, join its farm, or the farm's
    upgrade mode could not be ended."""
