"""What a node answers where the world's flows end: its ports for a health check, and the SSM
parameter its boot reads the SSH host key from. The world asks; the node's software decides."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Optional

import yaml

if TYPE_CHECKING:
    from .world_objects import Instance


# What a node answers on a port at t (components: sshd on 22 after boot; Bitbucket's HTTP on 7990,
# its SSH on 7999 and Hazelcast on 5701 while it runs; nginx's TLS on 443 in front of it), for a
# health check: an HTTP status, 0 for a connection that is accepted but speaks no HTTP, None for a
# refused or dropped connection.
def node_answer(instance: "Instance", t: float, protocol: str, port: int, path: str) -> Optional[int]:
    if not instance.running_at(t):
        return None
    if port == 22:
        listening, http = t >= instance.ssh_ready_at, False
    elif port == 7990:
        listening, http = instance.answers_at(t), True
    elif port in (7999, 5701, 443):
        listening, http = instance.answers_at(t), False
    else:
        return None
    if not listening:
        return None
    if protocol == "TCP":
        return 0
    if protocol == "HTTPS" or not http:  # no TLS on 7990; no HTTP on the others
        return None
    # Bitbucket answers /status with 200 while RUNNING; other paths redirect to the login page.
    return 200 if path.split("?")[0] == "/status" else 302


def matches(matcher: str, status: int) -> bool:
    """A target group matcher: codes and ranges, "200", "200-399", "200,302" (ELB API, Matcher)."""
    for part in str(matcher).split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def host_key_parameter_of(user_data: str) -> Optional[str]:
    """The SSM parameter a node's cloud-config bootcmd reads its host key from (the `parameter=`
    line of pin-host-key.sh), or None when the user data has none."""
    try:
        document = yaml.safe_load(user_data) if user_data.startswith("#cloud-config") else None
    except yaml.YAMLError:
        return None
    for command in (document or {}).get("bootcmd") or []:
        script = command[-1] if isinstance(command, list) else str(command)
        match = re.search(r"^parameter=(.+)$", script, re.MULTILINE)
        if match:
            return shlex.split(match.group(1))[0]
    return None
