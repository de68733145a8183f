"""URL checks and normalisation shared by the providers."""
from __future__ import annotations

import re
from typing import Optional
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def normalise_base_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no trailing slash: how mirror URLs are matched."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def redact(url: str) -> str:
    """`url` as messages may show it: without userinfo, query or fragment (where credentials and
    tokens travel), so an error that names a URL never names a secret."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "<an unparsable URL>"
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def https_problem(url: object) -> Optional[str]:
    """Why `url` is not an https URL with a valid host name, or None when it is. Every reason is a
    sentence a user can act on; a URL is echoed only without its userinfo and query."""
    if not isinstance(url, str) or not url:
        return "expected an https:// URL"
    try:
        parts = urlsplit(url)
        parts.port   # noqa: B018 - raises ValueError for a port that is not a number in range
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
    if not host or not (_IPV4.match(host) or all(_LABEL.match(label) for label in host.split("."))):
        return f"'{redact(url)}' has no valid host name"
    return None
