"""Whether a node still serves a client: what a drain asks the node itself, so that it ends as soon as
the node is idle instead of always waiting out the load balancer's deregistration delay.

How the node is asked: `ss` (iproute2) lists the node's established TCP connections on Bitbucket's
ports (7990 behind the HTTPS listener, 7999 for SSH), run through SSM Run Command with the
AWS-owned document AWS-RunShellScript (SendCommand, then GetCommandInvocation for its output). The
nodes already run the SSM agent for Session Manager (components/host.py); Run Command reaches the
agent through the same ssmmessages channel (AWS Systems Manager user guide, "Reference: ec2messages,
ssmmessages, and other API operations": the ssmmessages endpoint carries "operations from SSM Agent
to the Systems Manager service in the cloud").

What is not a client: the load balancer's own health checks. A Network Load Balancer's nodes check
a target from the private addresses of the load balancer's network interfaces (AWS knowledge
center, "elb-find-load-balancer-ip": ELB nodes use the private addresses of their elastic network
interfaces as the source; the interfaces are described "ELB net/<name>/<id>"). Clients keep their
own address (client IP preservation is on for instance targets), also clients inside the VPC, so
only those exact addresses are left out, never a whole CIDR.

A node whose connections cannot be read (no agent online, a failed command, an output cut at
Run Command's 24,000 characters) counts as busy: the drain then waits for `unused` as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

from . import clock

SERVICE_PORTS = (7990, 7999)
LIST_CONNECTIONS = "ss -Htn state established '( sport = :7990 or sport = :7999 )'"
DOCUMENT = "AWS-RunShellScript"
# GetCommandInvocation's StandardOutputContent holds at most this much (SSM API reference).
OUTPUT_LIMIT = 24000
# A connection only counts as gone once none is seen for this long: a deregistration takes a moment
# to reach every load balancer node, and a client may open its next connection a moment after one ends.
SETTLE_S = 10.0


def ssm(region: str):
    import boto3

    return boto3.client("ssm", region_name=region)


def ec2(region: str):
    import boto3

    return boto3.client("ec2", region_name=region)


def load_balancer_addresses(region: str, arn_suffix: str) -> frozenset[str]:
    """The private addresses of a load balancer's network interfaces: where its health checks come from."""
    found = ec2(region).describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"ELB {arn_suffix}"]}])
    return frozenset(
        a["PrivateIpAddress"]
        for interface in found.get("NetworkInterfaces", [])
        for a in interface.get("PrivateIpAddresses") or [{"PrivateIpAddress": interface.get("PrivateIpAddress")}]
        if a.get("PrivateIpAddress")
    )


def _address(endpoint: str) -> tuple[str, int]:
    """`10.0.0.5:7990`, `[::ffff:10.0.0.5]:7990` or `[2001:db8::1]:7990` -> (address, port)."""
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if host.lower().startswith("::ffff:") and "." in host:
        host = host[len("::ffff:") :]
    return host, int(port)


def client_connections(ss_output: str, not_clients: Iterable[str]) -> int:
    """Established connections on Bitbucket's ports whose peer is not the load balancer itself.
    `ss -Htn state established` prints: Recv-Q Send-Q Local:Port Peer:Port (no state column)."""
    excluded = set(not_clients)
    count = 0
    for line in ss_output.splitlines():
        columns = line.split()
        if len(columns) < 4:
            continue
        _, local_port = _address(columns[2])
        peer, _ = _address(columns[3])
        if local_port in SERVICE_PORTS and peer not in excluded:
            count += 1
    return count


@dataclass
class NodeConnections:
    """A node's client connections, asked through SSM Run Command."""

    region: str
    instance_id: str
    not_clients: frozenset[str] = frozenset()
    answer_s: float = 30.0  # how long one command may take to answer
    poll_s: float = 1.0
    _client: object = field(default=None, repr=False)

    def count(self) -> Optional[int]:
        """The node's client connections now, or None when the node could not be asked."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = ssm(self.region)
        try:
            sent = self._client.send_command(
                InstanceIds=[self.instance_id],
                DocumentName=DOCUMENT,
                Parameters={"commands": [LIST_CONNECTIONS]},
                TimeoutSeconds=30,
                Comment="bitbucket-mirrors: is the node idle before it leaves?",
            )
            command_id = sent["Command"]["CommandId"]
            deadline = clock.Deadline(self.answer_s)
            # The first look one poll after SendCommand: the invocation is not listed at once.
            deadline.sleep(self.poll_s)
            return clock.poll_until(
                deadline,
                lambda: self._answer(command_id),
                every=self.poll_s,
                timed_out=lambda _status: _Unanswered(),
            )
        except (ClientError, BotoCoreError, _Unanswered):
            return None

    def _answer(self, command_id: str) -> Union[Optional[int], clock.NotYet[str]]:
        """One look at the command's invocation: the count once it succeeded, None once it ended
        otherwise (or its output was cut), NotYet while it has not ended."""
        from botocore.exceptions import ClientError

        try:
            found = self._client.get_command_invocation(CommandId=command_id, InstanceId=self.instance_id)
        except ClientError as exc:  # the invocation is not listed yet right after SendCommand
            if exc.response.get("Error", {}).get("Code") == "InvocationDoesNotExist":
                return clock.NotYet("not listed")
            raise
        status = found.get("Status")
        if status == "Success":
            output = found.get("StandardOutputContent") or ""
            if len(output) >= OUTPUT_LIMIT:
                return None  # cut: too many connections to count, certainly not idle
            return client_connections(output, self.not_clients)
        if status in ("Pending", "InProgress", "Delayed"):
            return clock.NotYet(str(status))
        return None


class _Unanswered(Exception):
    """The command did not end within `answer_s`: the node could not be asked (busy, for a drain)."""


@dataclass
class IdleWatch:
    """Idle once every answer for `settle_s` said no client connection (an unknown answer is busy)."""

    settle_s: float = SETTLE_S
    _idle_since: Optional[float] = None

    def observe(self, connections: Optional[int], elapsed: float) -> bool:
        if connections is None or connections > 0:
            self._idle_since = None
            return False
        if self._idle_since is None:
            self._idle_since = elapsed
        return elapsed - self._idle_since >= self.settle_s
