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


def https_problem(url: object) -> Optional[str]:
    """Why `url` is not an https URL with a valid host name, or None when it is."""
    if not isinstance(url, str) or not url:
        return "expected an https:// URL"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"expected an https:// URL (Bitbucket mirroring refuses plain HTTP), got '{url}'"
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or not (_IPV4.match(host) or all(_LABEL.match(label) for label in host.split("."))):
        return f"'{url}' has no valid host name"
    return None
