"""BitbucketClient: one requests Session per server (the primary, or a mirror), HTTP basic auth,
TLS verification always on, https only, urllib3 retries for idempotent methods only, paging,
answers checked against the vendor's schema, and typed errors that never carry a credential.

Every call ends by a deadline, whatever the server answers: the caller's (`deadline=`), and never
later than `call_budget_s` after it started. The deadline bounds the whole exchange, not each step:
the name lookup, the connect, the TLS handshake and every byte of the headers and the body
(providers/transport.py shuts the connection when it comes, so a server that trickles a byte a
second is given up on time). Each attempt's timeout is cut to what is left, a retry's wait (backoff
or Retry-After, the latter capped at MAX_RETRY_AFTER_S) is never longer than what is left, and a
retry that could not start before the deadline is not made: the last answer is reported instead.
Waiting goes through providers.clock, which the twin of `pulumi up` replaces.

Every answer is read as it arrives and refused past MAX_ANSWER_BYTES once decompressed (a small
gzip body can inflate to gigabytes). A redirect is followed only for a read and only within the
server's origin (scheme, host, port): another host's answer is never taken for the server's.
"""

from __future__ import annotations

import atexit
import json as jsonlib
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import urljoin

import certifi
import requests
from urllib3 import exceptions as urllib3_exceptions

from . import answers, clock, transport
from .errors import (
    AnswerError,
    AnswerTooLarge,
    BitbucketError,
    DeadlineExceeded,
    RedirectRefused,
    Unreachable,
    for_status,
)
from .messages import shown
from .urls import https_problem, redact, redirect_refusal

# A POST that may have reached the server is never replayed blindly: callers read state back.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (429, 502, 503, 504)
PAGE_LIMIT = 1000
# A collection longer than this many pages is taken for a server that pages forever (at the
# default limit, a million values; at a server-side cap of 25 per page, 50,000).
MAX_PAGES = 2000
# A server asking to be retried after an hour is not waited for an hour (transport.DeadlineRetry).
MAX_RETRY_AFTER_S = transport.MAX_RETRY_AFTER_S
# How long one call, retries included, may take when its caller gives no deadline.
CALL_BUDGET_S = 300.0
# The cap on every answer, decompressed: twenty times the largest the providers read (a page of
# 1000 projects with long descriptions is under 1 MiB). An error's body is read for its message only.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
MAX_REDIRECTS = 5
MIN_ATTEMPT_S = transport.MIN_ATTEMPT_S

_bundles: dict[str, str] = {}


def trust_file(ca_bundle: Optional[str]) -> str:
    """The CA file to verify against: the public roots, plus a private CA's PEM when given.

    Public roots stay trusted so a mirror with a public (ACM) certificate verifies even when the
    primary uses a private CA. One file per distinct bundle, removed when the process exits.
    """
    if not ca_bundle:
        return certifi.where()
    if ca_bundle not in _bundles:
        with (
            open(certifi.where()) as public,
            tempfile.NamedTemporaryFile("w", prefix="bitbucket-mirrors-ca-", suffix=".pem", delete=False) as out,
        ):
            out.write(public.read() + "\n" + ca_bundle.strip() + "\n")
        _bundles[ca_bundle] = out.name
        atexit.register(os.unlink, out.name)
    return _bundles[ca_bundle]


class BitbucketClient:
    """One server's client (module docstring): get, post, put, delete and iter_paged, each bounded by a
    deadline, its answer checked as `expect`, its failure a typed BitbucketError. A context manager:
    the session closes with it."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        ca_bundle: Optional[str] = None,
        timeout: tuple[float, float] = (10, 60),
        retries: int = 6,
        backoff_s: float = 0.5,
        *,
        call_budget_s: float = CALL_BUDGET_S,
        max_pages: int = MAX_PAGES,
    ) -> None:
        problem = https_problem(base_url)
        if problem:
            # The providers' checks refuse these at preview (the same rule); this is the backstop for every caller.
            raise ValueError(f"refusing to talk to Bitbucket: {problem}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.call_budget_s = call_budget_s
        self.max_pages = max_pages
        # Passed on every request: a session-level `verify` loses to REQUESTS_CA_BUNDLE in the
        # environment, and the configured trust must always win.
        self.verify = trust_file(ca_bundle)
        self.session = requests.Session()
        self.session.auth = (username, password)
        retry = transport.DeadlineRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            backoff_factor=backoff_s,
            backoff_max=10,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=IDEMPOTENT,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        # https only: requests mounts a plain-http adapter by default, which is removed, so nothing
        # (a redirect included) can reach a server in plain text.
        self.session.adapters.clear()
        self.session.mount("https://", transport.BoundedAdapter(max_retries=retry))

    def __repr__(self) -> str:
        return f"BitbucketClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "BitbucketClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[dict] = None,
        json: Any = None,
        deadline: Optional[clock.Deadline] = None,
        expect: Any = None,
    ) -> Any:
        """The parsed JSON answer (None when empty), checked as `expect` (providers/answers.py) when
        given; a typed BitbucketError otherwise. Ends by `deadline` (and within call_budget_s)."""
        url = self.base_url + path
        bound = deadline.within(self.call_budget_s) if deadline is not None else clock.Deadline(self.call_budget_s)
        if bound.remaining < MIN_ATTEMPT_S:
            raise DeadlineExceeded(method, url, None, "not sent: the time it had was up")
        token = transport.call_deadline.set(bound)
        try:
            # One watch for the whole exchange: name lookups, connects, redirects, every byte.
            with transport.Watch(bound.remaining) as watch:
                status, named, content = self._exchange(method, url, params, json, watch)
        finally:
            transport.call_deadline.reset(token)
        if status >= 400:
            raise for_status(method, named, status, _server_message(status, content), path)
        if 300 <= status < 400:
            raise BitbucketError(method, named, status, "a redirect without a usable Location")
        if not content.data:
            if expect is not None:
                return answers.parse(expect, None, method=method, url=named, status=status, empty=True)
            return None
        try:
            body = jsonlib.loads(content.data)
        except ValueError:
            if expect is not None:
                raise AnswerError(method, named, status, "a body that is not JSON", answers._name(expect)) from None
            raise BitbucketError(method, named, status, "the answer is not JSON") from None
        if expect is not None:
            return answers.parse(expect, body, method=method, url=named, status=status)
        return body

    def _exchange(
        self, method: str, url: str, params: Optional[dict], json: Any, watch: transport.Watch
    ) -> tuple[int, str, "_Content"]:
        """The final answer's status, the URL to name it by, and its body: redirects followed only
        as redirect_refusal allows, at most MAX_REDIRECTS of them, each body left unread."""
        target = url
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, target, params, json, watch)
            try:
                if not response.is_redirect:
                    named = url if target == url else f"{url} (redirected to {shown(redact(target), 300)})"
                    return response.status_code, named, self._content(method, named, response, watch)
                location = urljoin(response.url, response.headers["Location"])
                why = redirect_refusal(method, url, location)
                if why is not None:
                    raise RedirectRefused(
                        method, redact(response.url), response.status_code, shown(redact(location), 300), why
                    )
            finally:
                response.close()
            target, params = location, None  # the Location carries its own query
        raise BitbucketError(method, url, None, f"more than {MAX_REDIRECTS} redirects, not followed")

    def _send(
        self, method: str, url: str, target: str, params: Optional[dict], json: Any, watch: transport.Watch
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                target,
                params=params,
                json=json,
                verify=self.verify,
                timeout=transport.DeadlineTimeout(connect=self.timeout[0], read=self.timeout[1]),
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as exc:
            if watch.fired:
                raise _too_slow(method, url, watch, exc) from None
            raise Unreachable(
                method,
                url,
                None,
                f"TLS verification failed ({_reason(exc)})",
                "the server's certificate must chain to a public CA or to bitbucket-mirrors:primary.caBundle",
            ) from None
        except requests.exceptions.RequestException as exc:
            if watch.fired:
                raise _too_slow(method, url, watch, exc) from None
            raise Unreachable(
                method, url, None, _reason(exc), "check the URL and that this machine can reach it on 443"
            ) from None

    @staticmethod
    def _content(method: str, url: str, response: requests.Response, watch: transport.Watch) -> "_Content":
        # An error's body is only read for its message: a smaller cap, and past it the rest unread.
        cap = MAX_ANSWER_BYTES if response.status_code < 400 else MAX_ERROR_BYTES
        said = {"reason": response.reason or "", "retry_after": response.headers.get("Retry-After")}
        try:
            data, short = transport.read_body(response, watch, cap)
        except (requests.exceptions.RequestException, urllib3_exceptions.HTTPError) as exc:
            if watch.fired:
                raise _too_slow(method, url, watch) from None
            if isinstance(exc, urllib3_exceptions.DecodeError):
                raise AnswerError(
                    method, url, response.status_code, "a body that does not decode", "a body in its Content-Encoding"
                ) from None
            raise Unreachable(method, url, None, f"the answer broke off ({_reason(exc)})") from None
        if short == transport.TOO_SLOW:
            raise _too_slow(method, url, watch)
        if short == transport.TOO_LARGE:
            if response.status_code >= 400:
                return _Content(b"", cut=True, **said)
            raise AnswerTooLarge(method, url, response.status_code, MAX_ANSWER_BYTES)
        return _Content(data, **said)

    def get(self, path: str, *, deadline: Optional[clock.Deadline] = None, expect: Any = None, **params: Any) -> Any:
        return self.request("GET", path, params=params or None, deadline=deadline, expect=expect)

    def post(
        self, path: str, json: Any = None, *, deadline: Optional[clock.Deadline] = None, expect: Any = None
    ) -> Any:
        return self.request("POST", path, json=json, deadline=deadline, expect=expect)

    def put(self, path: str, json: Any = None, *, deadline: Optional[clock.Deadline] = None, expect: Any = None) -> Any:
        return self.request("PUT", path, json=json, deadline=deadline, expect=expect)

    def delete(self, path: str, *, deadline: Optional[clock.Deadline] = None) -> Any:
        return self.request("DELETE", path, deadline=deadline)

    def iter_paged(
        self,
        path: str,
        params: Optional[dict] = None,
        limit: int = PAGE_LIMIT,
        *,
        item: Any = dict,
        deadline: Optional[clock.Deadline] = None,
    ) -> Iterator[Any]:
        """Every value of a paged collection (each checked as `item`), following nextPageStart until
        isLastPage. A page that does not start where it was asked to, a nextPageStart that does not
        advance, or more than max_pages pages is an AnswerError: such a server would page forever."""
        start, pages = 0, 0
        url = self.base_url + path
        while True:
            try:
                body = self.get(
                    path,
                    deadline=deadline,
                    expect=answers.Page[item],
                    **{**(params or {}), "start": start, "limit": limit},
                )
            except DeadlineExceeded:
                if not pages:
                    raise
                # Pages that advance but never end: the time ran out, not the server's patience.
                raise AnswerError(
                    "GET",
                    url,
                    200,
                    f"no last page after {pages} pages, when its time was up",
                    "a collection that reaches its last page (isLastPage)",
                ) from None
            pages += 1
            if body.start is not None and body.start != start:
                raise AnswerError(
                    "GET",
                    url,
                    200,
                    f"a page starting at {body.start}",
                    f"the page starting at {start} that was asked for",
                )
            yield from body.values
            if body.isLastPage:
                return
            if body.nextPageStart is None:
                raise AnswerError(
                    "GET",
                    url,
                    200,
                    "isLastPage false and no nextPageStart",
                    "a nextPageStart on every page but the last",
                )
            if body.nextPageStart <= start:
                raise AnswerError(
                    "GET",
                    url,
                    200,
                    f"nextPageStart {body.nextPageStart} after the page at {start}",
                    "a nextPageStart past the page's start: this one would page forever",
                )
            if pages >= self.max_pages:
                raise AnswerError(
                    "GET",
                    url,
                    200,
                    f"more than {self.max_pages} pages",
                    f"a collection that ends within {self.max_pages} pages of {limit}",
                )
            start = body.nextPageStart


@dataclass(frozen=True)
class _Content:
    data: bytes
    reason: str = ""
    retry_after: Optional[str] = None
    cut: bool = False  # an error body past MAX_ERROR_BYTES, not read


def _too_slow(method: str, url: str, watch: transport.Watch, exc: Optional[Exception] = None) -> Unreachable:
    return Unreachable(
        method,
        url,
        None,
        f"timed out: the answer was not complete within the {watch.seconds:.1f}s the call had (a server that "
        "sends it too slowly, or not at all, is given up at the call's deadline"
        + (f"; {_reason(exc)})" if exc is not None else ")"),
    )


def _server_message(status: int, content: _Content) -> str:
    try:
        errors = jsonlib.loads(content.data).get("errors") or []
        text = "; ".join(e.get("message", "") for e in errors if isinstance(e, dict) and e.get("message"))
    except (ValueError, AttributeError):
        text = content.reason
    if content.cut:
        text += f"{'; ' if text else ''}its body, over {MAX_ERROR_BYTES} bytes, was not read"
    if content.retry_after and status in RETRY_STATUSES:
        text += f"{'; ' if text else ''}it asked to be retried after {content.retry_after[:40]!r}"
    return text[:500]


def _reason(exc: Exception) -> str:
    # The innermost cause is the readable part ("Connection refused", "certificate verify failed");
    # none of requests' exception texts carry the Authorization header.
    cause: BaseException = exc
    for _ in range(10):
        inner = cause.__cause__ or (cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None)
        if inner is None:
            break
        cause = inner
    text = str(cause)
    return text[-200:]
