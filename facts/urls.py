"""How a URL is compared, shown and checked (the one check, https_fault), wherever a URL is read."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import SplitResult, urlsplit

from .text import control_characters

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


# What can be wrong with a URL that should name an https host, in the order the one check finds it.
MISSING = "missing"  # not text, or empty
CONTROL = "control characters"  # strict: urlsplit drops TAB, LF and CR silently, tools read around others
UNPARSABLE = "unparsable"  # urlsplit refuses it (an unclosed IPv6 bracket)
CREDENTIALS = "credentials"  # user[:password]@ before the host
SCHEME = "scheme"  # not https
TRAILING_DOT = "trailing dot"  # strict: certificates and nginx's server_name name the host without it
HOST = "host"  # no host, or not a host name (is_hostname)
PORT = "port"  # not a port; strict: also 0, or not written in ASCII digits
QUERY = "query or fragment"  # strict: also an empty one (a bare `?` or `#`)


@dataclass(frozen=True)
class UrlFault:
    """The first thing the one URL check found wrong: `kind` (one of the names above) and `detail`,
    what a message names besides the URL (the control characters, the port as written)."""

    kind: str
    detail: str = ""


def https_fault(url: object, *, strict: bool = False) -> Optional[UrlFault]:
    """What is wrong with `url` as the https URL of a host, or None: the one URL check, which the
    providers (https_problem) and the config (stack_config/urls.py, `strict`) word for their readers.
    `strict` adds the config's rules (CONTROL, TRAILING_DOT, the port as written, an empty query)
    and removes none, so a URL the config accepts, the providers accept."""
    if not isinstance(url, str) or not url:
        return UrlFault(MISSING)
    unseen = control_characters(url) if strict else []
    if unseen:
        return UrlFault(CONTROL, ", ".join(unseen))
    try:
        parts = urlsplit(url)
    except ValueError:
        return UrlFault(UNPARSABLE)
    if "@" in parts.netloc:
        return UrlFault(CREDENTIALS)
    if parts.scheme != "https":
        return UrlFault(SCHEME)
    host = (parts.hostname or "").lower()
    if strict and host.endswith("."):
        return UrlFault(TRAILING_DOT)
    if not is_hostname(host.rstrip(".")):
        return UrlFault(HOST)
    port = _port_fault(parts, strict)
    if port is not None:
        return port
    if parts.query or parts.fragment or (strict and ("?" in url or "#" in url)):
        return UrlFault(QUERY)
    return None


def _port_fault(parts: SplitResult, strict: bool) -> Optional[UrlFault]:
    written = parts.netloc.rpartition("]")[2].rpartition(":")
    try:
        port = parts.port
    except ValueError:
        return UrlFault(PORT, written[2])
    if (
        strict
        and written[1]
        and (port is None or not 1 <= port <= 65535 or not re.fullmatch(r"[0-9]{1,5}", written[2]))
    ):
        return UrlFault(PORT, written[2])
    return None


def https_problem(url: object) -> Optional[str]:
    """Why `url` is not an https URL with a valid host name, or None when it is: the providers' words
    for the one check (https_fault), at preview and in their client's backstop. Every reason is a
    sentence a user can act on; a URL is echoed only redacted."""
    fault = https_fault(url)
    if fault is None:
        return None
    shown = f"'{redact(str(url))}'"
    return {
        MISSING: "expected an https:// URL",
        UNPARSABLE: f"{shown} is not a valid URL (check its port)",
        PORT: f"{shown} is not a valid URL (check its port)",
        SCHEME: f"expected an https:// URL (Bitbucket mirroring refuses plain HTTP), got {shown}",
        # Basic-auth credentials in a URL would end up in the state, in logs and in error messages.
        CREDENTIALS: f"{shown} carries credentials before its host: give them in the stack config instead",
        QUERY: f"{shown} has a query or fragment: a Bitbucket base URL has neither",
        HOST: f"{shown} has no valid host name",
    }[fault.kind]
