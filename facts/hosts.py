"""What every mirror site's hosts get, written once for the program and the offline cost estimate."""

from __future__ import annotations

import ipaddress
from typing import Sequence

# The root volume (gp3, encrypted, deleted with the instance): the OS, the installer and logs.
ROOT_VOLUME_GB = 30


def needs_public_endpoint(cidrs: Sequence[str]) -> bool:
    """Whether any allowed source is a public address, so the site must be internet-facing."""
    return any(not ipaddress.ip_network(c).is_private for c in cidrs)
