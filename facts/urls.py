"""How a URL is compared, shown and its host checked, wherever a URL is read."""

from __future__ import annotations

import ipaddress
import re
from typing import Optional
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC = re.compile(r"^[0-9.]+$")


def normalise_base_url(url: str) -> str:
    """Lower-case scheme and host, no trailing dot, no default port, no trailing slash: how mirror
    URLs are matched (two spellings of one URL are one mirror)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def is_hostname(host: str) -> bool:
    """A DNS name of RFC 1123 labels, or a dotted IPv4 address (all-numeric names are addresses to
    every resolver: 10.0.0.300 is neither)."""
    if _NUMERIC.match(host):
        try:
            ipaddress.IPv4Address(host)
            return True
        except ValueError:
            return False
    return 0 < len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def redact(url: str, marks: bool = False) -> str:
    """`url` as messages may show it: without userinfo, query or fragment (where credentials and
    tokens travel), so an error that names a URL never names a secret. The one redactor: the
    providers' messages and the config's refusals (stack_config.shown.shown_url) both show URLs
    through it. With `marks`, an ellipsis shows what was left out (`https://…@host/path?…`), for a
    refusal whose reason is the part left out.

    Plain string operations rather than urlsplit: the text being refused may not parse, and the
    authority ends where urlsplit ends it (the first `/`, `?` or `#`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        authority = ("…@" if marks else "") + authority.rsplit("@", 1)[1]
    end = min((i for i in (tail.find("?"), tail.find("#")) if i >= 0), default=-1)
    if end >= 0:
        tail = tail[:end] + (tail[end] + "…" if marks else "")
    return f"{scheme}{sep}{authority}{tail}"


def https_problem(url: object) -> Optional[str]:
    """Why `url` is not an https URL with a valid host name, or None when it is: the providers' check of
    every URL they talk to (at preview) and their client's backstop. Every reason is a sentence a user
    can act on; a URL is echoed only redacted. The config's check (stack_config/urls.py) is stricter
    (control characters, a trailing dot, port 0) and words its refusals for the key: a URL it
    accepts, this accepts (tests/test_vocabulary.py holds that)."""
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
