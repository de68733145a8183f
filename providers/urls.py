"""The providers' refusal of a URL they would talk to (the comparison, the redaction and the host
rule are the project's: facts/urls.py)."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from facts.urls import is_hostname, normalise_base_url, redact

__all__ = ["https_problem", "normalise_base_url", "origin", "redact", "redirect_refusal"]

# Redirects are followed only for these (a write is never re-sent elsewhere).
REDIRECTABLE = frozenset({"GET", "HEAD", "OPTIONS"})


def https_problem(url: object) -> Optional[str]:
    """Why `url` is not an https URL with a valid host name, or None when it is. Every reason is a
    sentence a user can act on; a URL is echoed only without its userinfo and query."""
    if not isinstance(url, str) or not url:
        return "expected an https:// URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return f"'{redact(url)}' is not a valid URL (check its port)"
    if parts.scheme != "https":
        return f"expected an https:// URL (Bitbucket mirroring refuses plain HTTP), got '{redact(url)}'"
    if "@" in parts.netloc:
        # Basic-auth credentials in a URL would end up in the state, in logs and in error messages.
        return f"'{redact(url)}' carries credentials before its host: give them in the stack config instead"
    if parts.query or parts.fragment:
        return f"'{redact(url)}' has a query or fragment: a Bitbucket base URL has neither"
    host = (parts.hostname or "").lower().rstrip(".")
    if not is_hostname(host):
        return f"'{redact(url)}' has no valid host name"
    return None


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) as a browser compares origins: a default port spelled or not is one."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower().rstrip("."), parts.port or {"https": 443, "http": 80}.get(scheme, 0)


def redirect_refusal(method: str, source: str, target: str) -> Optional[str]:
    """Why a redirect from `source` to `target` is not followed, or None when it is: only a read,
    only to the same origin (scheme, host, port). Another host's answer would be trusted as the
    server's (a preflight would take its SSH port), and plain http would carry the credentials."""
    if method not in REDIRECTABLE:
        return "the client never follows a redirect of a write (it would re-send it elsewhere)"
    if urlsplit(target).scheme.lower() != "https":
        return "the target is not https: the answer and the credentials would travel in plain text"
    if origin(target) != origin(source):
        return (
            "the target is another origin (scheme, host and port) than the server's: its answer would be "
            "trusted as the server's"
        )
    return None
