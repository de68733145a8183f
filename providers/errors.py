"""Every failure a provider reports: one base, `ProviderError`, with a subclass named for what
happened. Its message is what `pulumi up` shows under the resource: what went wrong, where, and
what to do; never a credential (it ends up in CI logs).

- `BitbucketError` and its family: a call to Bitbucket answered wrongly or not at all (method, URL,
  status, a hint).
- The rest: what a provider decided it could not do (a preflight refused, an approval refused or
  timed out, a sync timed out, a rollout step that did not finish, a change Bitbucket cannot make).
"""

from __future__ import annotations

from typing import Optional

HINTS = {
    401: "the primary refused the credentials: check bitbucket-mirrors:primary.username and primaryPassword "
    "(or BITBUCKET_USERNAME / BITBUCKET_PASSWORD); on a mirror, the user also needs SYS_ADMIN",
    403: "the user is authenticated but lacks SYS_ADMIN, which approving mirrors and selecting projects need",
    409: "the server reported a conflict (for mirroring requests: unknown or no longer pending; "
    "a registration conflict usually means the primary lacks a Data Center licence)",
}
MIRRORING_404 = (
    "the mirroring REST API is missing: the primary is not Bitbucket Data Center, is older than "
    "the mirroring API this tool uses (9.0), or the mirror has no approved upstream yet"
)


class ProviderError(Exception):
    """A provider could not do what was asked; the message says what happened and what to do."""


class BitbucketError(ProviderError):
    """A call to Bitbucket that did not get the answer it needs: the method, the URL (without any
    credential), the status (None: no answer), what the server said and what to do about it."""

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
    """401: the user or password was refused."""


class PermissionDenied(BitbucketError):
    """403: the user is known but may not do this (mirroring needs SYS_ADMIN)."""


class NotFound(BitbucketError):
    """404: the thing is not there (a caller may take that as its goal reached, or as "gone")."""


class Conflict(BitbucketError):
    """409: the server's state does not allow it now (a request accepted meanwhile, nodes settling)."""


class BadRequest(BitbucketError):
    """400: the server refused what was sent."""


class ServerUnavailable(BitbucketError):
    """5xx or 429 after the retries ran out."""


class Unreachable(BitbucketError):
    """No HTTP answer: connection refused or dropped, timeout, or TLS verification failed."""


class DeadlineExceeded(Unreachable):
    """Not sent: the wait it belongs to had run out of time (a request that was sent and timed out
    is Unreachable)."""


class AnswerError(BitbucketError):
    """A 2xx answer that is not what the vendor's API document says it is (providers/answers.py):
    "GET <url> answered 200 with <what was found> (expected <what the document says>)". What was
    found is described by its shape (a string, null, a list), never echoed: answers can hold secrets."""

    def __init__(self, method: str, url: str, status: Optional[int], found: str, expected: str, hint: str = ""):
        self.found, self.expected = found, expected
        super().__init__(method, url, status, "", hint)
        text = f"{method} {url} answered {status} with {found} (expected {expected})"
        self.args = (text + (f" (hint: {hint})" if hint else ""),)


class AnswerTooLarge(AnswerError):
    """An answer longer than the client's cap, decompressed: refused unread past the cap."""

    def __init__(self, method: str, url: str, status: Optional[int], cap: int):
        self.cap = cap
        super().__init__(
            method,
            url,
            status,
            f"more than {cap} bytes ({cap // (1024 * 1024)} MiB) once decompressed",
            f"an answer within the cap of {cap // (1024 * 1024)} MiB on every answer; the rest was not read",
            "a Bitbucket answer is far smaller: check that the URL is the server's",
        )


class RedirectRefused(BitbucketError):
    """A redirect the client does not follow: of a write, or to another origin (http included)."""

    def __init__(self, method: str, url: str, status: int, target: str, why: str):
        self.target = target
        super().__init__(
            method,
            url,
            status,
            f"a redirect to {target}, not followed: {why}",
            "give the URL the server really answers on (https), so nothing is redirected",
        )


def for_status(method: str, url: str, status: int, detail: str, path: str) -> BitbucketError:
    hint = HINTS.get(status, "")
    if status == 404 and "/rest/mirroring/" in path:
        hint = MIRRORING_404
    kind = {400: BadRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound, 409: Conflict}.get(
        status, ServerUnavailable if status >= 500 or status == 429 else BitbucketError
    )
    return kind(method, url, status, detail, hint)


class RolloutError(ProviderError):
    """A rollout step could not finish: a node did not drain, return, join its farm, or the farm's
    upgrade mode could not be ended."""


class PreflightError(ProviderError):
    """The primary cannot serve a mirror as configured (its version, SSH, its licence)."""


class MissingCredentials(ProviderError):
    """No SYS_ADMIN user or password in the stack config or the environment."""


class UnknownProjects(ProviderError):
    """Project keys the primary does not have."""


class IrreversibleChange(ProviderError):
    """A change Bitbucket cannot make to a running mirror (leaving mirror-all needs a new mirror)."""


class SyncTimeout(ProviderError):
    """The selected repositories did not all synchronise within the configured time."""


class ApprovalTimeout(ProviderError):
    """No request from this mirror was seen, or none could be accepted, within the time."""


class ApprovalRefused(ProviderError):
    """Requests claim the mirror's base URL and none, or more than one, is tied to the mirror this
    stack installed: nothing was accepted, an admin decides."""


class ApprovalMismatch(ProviderError):
    """The accept's answer names another mirror than the request accepted: nothing is recorded."""


class NotOurMirror(ProviderError):
    """The mirror id recorded in the state is, on the primary, another mirror now: not removed."""


class MirrorGone(ProviderError):
    """The approved mirror is no longer on the primary."""
