"""Where the providers' HTTP client may go: a redirect's target, by origin. The URL rules themselves
(the comparison, the redaction, the host rule and the check of a URL a provider talks to) are the
project's, in facts/urls.py, and named here for the providers."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from facts.urls import https_problem, normalise_base_url, redact

__all__ = ["https_problem", "normalise_base_url", "origin", "redact", "redirect_refusal"]

# Redirects are followed only for these (a write is never re-sent elsewhere).
REDIRECTABLE = frozenset({"GET", "HEAD", "OPTIONS"})


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
