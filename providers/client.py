"""BitbucketClient: one requests Session per server (the primary, or a mirror), HTTP basic auth,
TLS verification always on, timeouts on every call, urllib3 retries for idempotent methods only,
paging, and typed errors that never carry a credential."""
from __future__ import annotations

import atexit
import os
import tempfile
from typing import Any, Iterator, Optional

import certifi
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from .errors import BitbucketError, Unreachable, for_status

# A POST that may have reached the server is never replayed blindly: callers read state back.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (429, 502, 503, 504)
PAGE_LIMIT = 1000

_bundles: dict[str, str] = {}


def trust_file(ca_bundle: Optional[str]) -> str:
    """The CA file to verify against: the public roots, plus a private CA's PEM when given.

    Public roots stay trusted so a mirror with a public (ACM) certificate verifies even when the
    primary uses a private CA. One file per distinct bundle, removed when the process exits.
    """
    if not ca_bundle:
        return certifi.where()
    if ca_bundle not in _bundles:
        with open(certifi.where()) as public, tempfile.NamedTemporaryFile(
                "w", prefix="bitbucket-mirrors-ca-", suffix=".pem", delete=False) as out:
            out.write(public.read() + "\n" + ca_bundle.strip() + "\n")
        _bundles[ca_bundle] = out.name
        atexit.register(os.unlink, out.name)
    return _bundles[ca_bundle]


class BitbucketClient:
    def __init__(self, base_url: str, username: str, password: str, ca_bundle: Optional[str] = None,
                 timeout: tuple[float, float] = (10, 60), retries: int = 6, backoff_s: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Passed on every request: a session-level `verify` loses to REQUESTS_CA_BUNDLE in the
        # environment, and the configured trust must always win.
        self.verify = trust_file(ca_bundle)
        self.session = requests.Session()
        self.session.auth = (username, password)
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                      backoff_factor=backoff_s, backoff_max=10, status_forcelist=RETRY_STATUSES,
                      allowed_methods=IDEMPOTENT, respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"BitbucketClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "BitbucketClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: Optional[dict] = None, json: Any = None) -> Any:
        """The parsed JSON answer (None when empty); a typed BitbucketError otherwise."""
        url = self.base_url + path
        try:
            response = self.session.request(method, url, params=params, json=json, timeout=self.timeout,
                                            verify=self.verify)
        except requests.exceptions.SSLError as exc:
            raise Unreachable(method, url, None, f"TLS verification failed ({_reason(exc)})",
                              "the server's certificate must chain to a public CA or to "
                              "bitbucket-mirrors:primary.caBundle") from None
        except requests.exceptions.RequestException as exc:
            raise Unreachable(method, url, None, _reason(exc),
                              "check the URL and that this machine can reach it on 443") from None
        if response.status_code >= 400:
            raise for_status(method, url, response.status_code, _server_message(response), path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise BitbucketError(method, url, response.status_code, "the answer is not JSON") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def iter_paged(self, path: str, params: Optional[dict] = None, limit: int = PAGE_LIMIT) -> Iterator[dict]:
        """Every value of a paged collection, following nextPageStart until isLastPage."""
        start = 0
        while True:
            body = self.get(path, **{**(params or {}), "start": start, "limit": limit})
            yield from body.get("values", [])
            if body.get("isLastPage", True) or body.get("nextPageStart") is None:
                return
            start = body["nextPageStart"]


def _server_message(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(e.get("message", "") for e in errors if e.get("message"))
    except (ValueError, AttributeError):
        return response.reason or ""


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
