"""The config's words for the one URL check (facts.urls.https_fault, strict): every URL key goes
through it where it is read (primary.url, mirrors[].baseUrl, mirrors[].installer.url).

The strict check refuses what urlsplit would silently drop (TAB, LF, CR) or read only when asked
(the port), so a URL that passes preview is one the providers, nginx and curl can all use as written.
Messages show a URL only through `shown_url`: never its user info, query or fragment.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from facts import urls
from facts.urls import UrlFault

from .shown import shown_url


def https_url(value: str, credentials_hint: str = "") -> SplitResult:
    """The parts of an https URL that names a host; ValueError saying what to write otherwise."""
    fault = urls.https_fault(value, strict=True)
    if fault is not None:
        raise ValueError(_refusal(fault, value, credentials_hint))
    return urlsplit(value)


def _refusal(fault: UrlFault, value: str, credentials_hint: str) -> str:
    if fault.kind == urls.CREDENTIALS:
        # Never echo the value: the part before '@' may be a password.
        return (
            "expected a URL without credentials (user[:password]@ would be written in plain text "
            f"into the stack's state and the mirror's files); the value is not shown. {credentials_hint}".rstrip()
        )
    shown = shown_url(value)
    not_https = f"expected an https:// URL (Bitbucket mirroring refuses plain HTTP), got {shown}"
    return {
        urls.CONTROL: f"expected a URL without control characters (found {fault.detail}; tools read the URL "
        f"differently around them): retype it on one line, got {shown}",
        urls.UNPARSABLE: f"expected https://<hostname>[:port][/path], got {shown}",
        urls.MISSING: not_https,
        urls.SCHEME: not_https,
        urls.TRAILING_DOT: "expected a host name without a trailing dot (certificates and nginx's server_name "
        f"name the host without it), got {shown}",
        urls.HOST: f"expected https://<hostname>[...], got {shown}",
        urls.PORT: "expected a port from 1 to 65535 after the host (or none: https means 443), "
        f"got ':{fault.detail}' in {shown}",
        urls.QUERY: "expected a URL without query or fragment (a token there would be written into the "
        f"stack's state and the hosts' files), got {shown}",
    }[fault.kind]
