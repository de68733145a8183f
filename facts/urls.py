"""How a URL is compared, shown and its host checked, wherever a URL is read."""

from __future__ import annotations

import ipaddress
import re
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


def redact(url: str) -> str:
    """`url` as messages may show it: without userinfo, query or fragment (where credentials and
    tokens travel), so an error that names a URL never names a secret."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "<an unparsable URL>"
    return parts._replace(netloc=netloc, query="", fragment="").geturl()
