"""What every mirror site's hosts get, written once for the program and the offline cost estimate."""

from __future__ import annotations

import ipaddress
import re
from typing import Sequence

# The root volume (gp3, encrypted, deleted with the instance): the OS, the installer and logs.
ROOT_VOLUME_GB = 30


def needs_public_endpoint(cidrs: Sequence[str]) -> bool:
    """Whether any allowed source is a public address, so the site must be internet-facing."""
    return any(not ipaddress.ip_network(c).is_private for c in cidrs)


def architecture_of(instance_type: str) -> str:
    """The CPU architecture of an instance type: it picks a new node's AMI, and EC2 cannot modify a
    running node's type to another one. Graviton families carry a "g" after the generation digit
    (m6g, c7g, t4g, r8g)."""
    return "arm64" if re.match(r"^[a-z]+\d+g", instance_type.partition(".")[0]) else "x86_64"
