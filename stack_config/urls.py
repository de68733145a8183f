"""The one check every URL key goes through where it is read (primary.url, mirrors[].baseUrl,
mirrors[].installer.url): characters, credentials, scheme, host, port, query.

urlsplit silently drops TAB, LF and CR (and the original string is what the program would use), and
reads the port only when asked: each of those is checked here explicitly, so a URL that passes
preview is one the providers, nginx and curl can all use as written. Messages show a URL only
through `shown_url`: never its user info, query or fragment.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from facts.urls import is_hostname

from .shown import control_characters, shown_url


def https_url(value: str, credentials_hint: str = "") -> SplitResult:
    """The parts of an https URL that names a host; ValueError saying what to write otherwise."""
    bad = control_characters(value)
    if bad:
        raise ValueError(
            f"expected a URL without control characters (found {', '.join(bad)}; tools read the URL "
            f"differently around them): retype it on one line, got {shown_url(value)}"
        )
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError(f"expected https://<hostname>[:port][/path], got {shown_url(value)}") from None
    if "@" in parts.netloc:
        # Never echo the value: the part before '@' may be a password.
        raise ValueError(
            "expected a URL without credentials (user[:password]@ would be written in plain text "
            f"into the stack's state and the mirror's files); the value is not shown. {credentials_hint}".rstrip()
        )
    if parts.scheme != "https":
        raise ValueError(f"expected an https:// URL (Bitbucket mirroring refuses plain HTTP), got {shown_url(value)}")
    host = (parts.hostname or "").lower()
    if host.endswith("."):
        raise ValueError(
            f"expected a host name without a trailing dot (certificates and nginx's server_name "
            f"name the host without it), got {shown_url(value)}"
        )
    if not host or not is_hostname(host):
        raise ValueError(f"expected https://<hostname>[...], got {shown_url(value)}")
    _check_port(parts, value)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(
            f"expected a URL without query or fragment (a token there would be written into the "
            f"stack's state and the hosts' files), got {shown_url(value)}"
        )
    return parts


def _check_port(parts: SplitResult, value: str) -> None:
    given = parts.netloc.rpartition("]")[2].rpartition(":")
    if not given[1]:
        return
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or not 1 <= port <= 65535 or not re.fullmatch(r"[0-9]{1,5}", given[2]):
        raise ValueError(
            f"expected a port from 1 to 65535 after the host (or none: https means 443), "
            f"got ':{given[2]}' in {shown_url(value)}"
        )
