"""Who may reach whom in the twin's world: the security groups and rules the program creates, and
what the nodes' IAM roles allow. Every flow the world plays (deployer -> node SSH, load balancer ->
node traffic and health checks, node <-> node Hazelcast, node -> primary, node -> AWS APIs) asks
here first; a flow no rule allows fails as AWS fails it.

Security groups (EC2 User Guide, "Security group rules"; "Security groups are stateful"):
- a packet leaves only when an egress rule of one of the sender's groups allows it, and enters only
  when an ingress rule of one of the receiver's groups allows it; a rule matches by protocol, port
  range and either a CIDR that holds the source (destination, for egress) address or a referenced
  group that the other side's network interface carries. Replies of an allowed flow are allowed.
- a group created by terraform-provider-aws has no egress rule: TPA revokes the default allow-all
  egress rules (IPv4 and IPv6) at create (internal/service/ec2/vpc_security_group.go,
  resourceSecurityGroupCreate: "revoking default ... egress rule", commit 01606926a0c0), so only
  the program's egress rules let traffic out.
- an NLB with security groups: its groups filter what reaches the listeners and what leaves for the
  targets; "Referencing the security group associated with your Network Load Balancer in the
  security groups associated with your targets ensures that your targets accept traffic from your
  Network Load Balancer even if you enable client IP preservation" (NLB guide, "Update the security
  groups for your Network Load Balancer"). With client IP preservation (the default for instance
  targets over TCP and TLS: NLB guide, "Client IP preservation") a target sees the client's address,
  otherwise the load balancer's; health checks always come from the load balancer's own address.
- a rule allows from the end of its create (Authorize... returned) until the end of its delete
  (Revoke... returned): the step that deletes it is the moment it stops allowing, however long
  after it the engine runs what needed it. Connections already established are tracked and
  survive the revoke (EC2 User Guide, "Security group connection tracking"); the twin's flows are
  all new connections.

IAM (IAM User Guide, "Policy evaluation logic"): a request is allowed when a statement of the
principal's policies allows its action on its resource with every condition met, and no statement
denies it; otherwise it is an implicit deny, which AWS answers with AccessDenied.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Optional

FOREVER = float("inf")
ALL_PORTS = (0, 65535)


@dataclass
class Rule:
    """One security group rule (aws.vpc.SecurityGroupIngressRule/EgressRule, or an inline rule)."""

    id: str
    group_id: str
    direction: str  # "ingress" | "egress"
    protocol: str  # "tcp", "udp", "-1" (all)
    ports: tuple[int, int]
    cidr: Optional[str] = None
    group: Optional[str] = None  # the referenced security group
    since: float = 0.0
    until: float = FOREVER

    def live(self, t: float) -> bool:
        return self.since <= t < self.until

    def matches(self, other: "Endpoint", port: int, protocol: str) -> bool:
        if self.protocol not in ("-1", "all", protocol):
            return False
        if self.protocol not in ("-1", "all") and not self.ports[0] <= port <= self.ports[1]:
            return False
        if self.group is not None:
            return self.group in other.groups
        if self.cidr is None:
            return False
        try:
            return ipaddress.ip_address(other.address) in ipaddress.ip_network(self.cidr, strict=False)
        except ValueError:
            return False


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow: an address and the security groups of its network interface. No groups:
    a host outside the world's VPCs (the deployer, the primary, the bastion): nothing of the
    program's filters what it sends or receives."""

    address: str
    groups: tuple[str, ...] = ()
    name: str = ""

    def described(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address


@dataclass
class Network:
    """The world's security groups and their rules, and IAM's role policies and instance profiles:
    whether a connection or an AWS call is allowed, and what was refused (`denied`)."""

    groups: dict[str, str] = field(default_factory=dict)  # security group id -> name
    rules: dict[str, Rule] = field(default_factory=dict)
    # IAM: role name -> {policy name: policy document}; instance profile name -> role name.
    policies: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    denied: list[tuple[float, str]] = field(default_factory=list)  # (time, what was refused)

    # --- security groups -------------------------------------------------------------------------
    def add_group(self, group_id: str, name: str) -> None:
        self.groups[group_id] = name

    def remove_group(self, group_id: str, t: float) -> None:
        self.groups.pop(group_id, None)
        for rule in self.rules.values():  # revoke_rules_on_delete, and a group's rules die with it
            if rule.group_id == group_id and rule.until > t:
                rule.until = t

    def add_rule(self, rule: Rule) -> None:
        self.rules[rule.id] = rule

    def remove_rule(self, rule_id: str, t: float) -> None:
        rule = self.rules.get(rule_id)
        if rule is not None and rule.until > t:
            rule.until = t

    def _allowed(self, side: Endpoint, other: Endpoint, direction: str, port: int, protocol: str, t: float) -> bool:
        if not side.groups:
            return True
        return any(
            r.live(t) and r.direction == direction and r.group_id in side.groups and r.matches(other, port, protocol)
            for r in self.rules.values()
        )

    def blocked(self, src: Endpoint, dst: Endpoint, port: int, t: float, protocol: str = "tcp") -> Optional[str]:
        """Why a new connection from src to dst:port at t is dropped, or None when it is allowed."""
        if not self._allowed(src, dst, "egress", port, protocol, t):
            return f"no egress rule of {src.described()}'s security groups allows {protocol}/{port} to {dst.address}"
        if not self._allowed(dst, src, "ingress", port, protocol, t):
            return f"no ingress rule of {dst.described()}'s security groups allows {protocol}/{port} from {src.address}"
        return None

    def flow(self, src: Endpoint, dst: Endpoint, port: int, t: float, what: str) -> bool:
        reason = self.blocked(src, dst, port, t)
        if reason is not None:
            self.denied.append((t, f"{what}: {reason}"))
        return reason is None

    # --- IAM -------------------------------------------------------------------------------------
    def attach_policy(self, role: str, name: str, document: str) -> None:
        self.policies.setdefault(role, {})[name] = document

    def detach_policy(self, role: str, name: str) -> None:
        self.policies.get(role, {}).pop(name, None)

    def role_allows(self, role: Optional[str], action: str, resource: str, context: dict[str, str]) -> bool:
        """IAM policy evaluation of the role's inline policies: an explicit deny wins, then an allow."""
        verdicts = []
        for document in (self.policies.get(role or "") or {}).values():
            for statement in _statements(document):
                if _applies(statement, action, resource, context):
                    verdicts.append(statement.get("Effect"))
        return "Deny" not in verdicts and "Allow" in verdicts

    def call(
        self, who: str, role: Optional[str], action: str, resource: str, context: dict[str, str], t: float
    ) -> bool:
        """An AWS API call signed with the role's credentials: False is AWS's AccessDenied."""
        if self.role_allows(role, action, resource, context):
            return True
        self.denied.append(
            (
                t,
                f"AccessDenied: {who} (role {role}) is not authorized to perform: {action} on resource: {resource}",
            )
        )
        return False


def _statements(document: str) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    # Actions are case-insensitive, resources are not (IAM JSON policy reference, "Action", "Resource").
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement.get("Action"))):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("Resource"))):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, values in conditions.items():
            if not _condition(operator, context.get(key), _listed(values)):
                return False
    return True


def _condition(operator: str, have: Optional[str], values: list[str]) -> bool:
    """The condition operators the program's policies use; a key missing from the request does not
    match (IAM JSON policy reference, "Condition operators")."""
    if have is None:
        return False
    if operator == "StringEquals":
        return have in values
    if operator == "StringLike":
        return any(fnmatch.fnmatchcase(have, v) for v in values)
    if operator == "ArnEquals" or operator == "ArnLike":
        return any(fnmatch.fnmatchcase(have, v) for v in values)
    raise ValueError(f"twin: the IAM condition operator {operator} is not modelled")


def parse_ports(inputs: dict[str, Any]) -> tuple[int, int]:
    protocol = str(inputs.get("ipProtocol") or inputs.get("protocol") or "tcp")
    if protocol in ("-1", "all"):
        return ALL_PORTS
    return int(inputs.get("fromPort", 0)), int(inputs.get("toPort", inputs.get("fromPort", 0)))


def parameter_arn(region: str, account: str, name: str) -> str:
    """An SSM parameter's ARN: a name with a leading slash is appended as is (SSM User Guide,
    "Working with parameter hierarchies")."""
    return f"arn:aws:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"
