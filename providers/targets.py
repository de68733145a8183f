"""One node in its load balancer: its targets in each of the site's target groups, through the
Elastic Load Balancing v2 API (boto3, with the credentials of whoever runs `pulumi up`).

Every wait polls `DescribeTargetHealth` itself rather than through botocore's waiters, so that it
says how it is doing every `progress_s` and ends by its own deadline with a message that says what
it waited for. States and their meaning: the ELB API reference, TargetHealth (`draining`: the
deregistration delay has not expired; `unused`: not registered, or the instance is stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from facts.tags import tag_filters

from . import clock
from .errors import RolloutError
from .messages import say
from .node_idle import IdleWatch, NodeConnections

INSTANCE_STATES = ["pending", "running", "stopping", "stopped"]
# AWS's answer for a target that is not there: not registered (DeregisterTargets), or an instance
# that no longer exists or does not run (RegisterTargets, DescribeTargetHealth).
GONE = "InvalidTarget"
# States in which a target is registered and not on its way out: registering it again is a no-op.
REGISTERED = frozenset({"initial", "healthy", "unhealthy", "unhealthy.draining", "unavailable"})


def error_code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


def elbv2(region: str):
    import boto3  # credentials, endpoint and retries: the usual AWS configuration

    return boto3.client("elbv2", region_name=region)


def ec2(region: str):
    import boto3

    return boto3.client("ec2", region_name=region)


def instances_tagged(region: str, tags: dict[str, str]) -> list[str]:
    """The instances carrying every one of these tags (not terminated), sorted."""
    filters = tag_filters(tags)
    filters.append({"Name": "instance-state-name", "Values": INSTANCE_STATES})
    pages = ec2(region).get_paginator("describe_instances").paginate(Filters=filters)
    return sorted(i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"])


def instances_existing(region: str, ids: list[str]) -> list[str]:
    """Those of `ids` that exist (not terminated): an instance stopped for a change is one of them."""
    if not ids:
        return []
    found = ec2(region).describe_instances(
        Filters=[
            {"Name": "instance-id", "Values": list(ids)},
            {"Name": "instance-state-name", "Values": INSTANCE_STATES},
        ]
    )
    return sorted(i["InstanceId"] for r in found["Reservations"] for i in r["Instances"])


@dataclass
class Targets:
    """One node in its load balancer's target groups, through the elbv2 API: register, drain (until
    `unused` or idle), wait until healthy; every call idempotent against AWS's answers for a target
    already gone or already registered."""

    region: str
    instance_id: str
    groups: Sequence[dict[str, Any]]  # [{"arn": ..., "port": ...}] as the load balancer component gives them
    node: str  # for messages
    timeout_s: float = 600
    poll_s: float = 5.0
    progress_s: float = 30.0

    def _client(self):
        # One client for the wait's many calls (creating a boto3 client is the expensive part).
        if getattr(self, "_elbv2", None) is None:
            self._elbv2 = elbv2(self.region)
        return self._elbv2

    def _target(self, group: dict) -> list[dict]:
        return [{"Id": self.instance_id, "Port": int(group["port"])}]

    def states(self) -> dict[str, str]:
        """Target group ARN -> this node's state in it."""
        client = self._client()
        out = {}
        for group in self.groups:
            try:
                found = client.describe_target_health(TargetGroupArn=group["arn"], Targets=self._target(group))
            except Exception as exc:
                if error_code(exc) != GONE:
                    raise
                found = {}  # an instance that is gone is in no target group: unused
            descriptions = found.get("TargetHealthDescriptions") or [{}]
            out[group["arn"]] = (descriptions[0].get("TargetHealth") or {}).get("State", "unused")
        return out

    def serving(self) -> bool:
        """Registered and healthy in every group: the load balancer sends it new connections."""
        return bool(self.groups) and all(state == "healthy" for state in self.states().values())

    def others_serving(self) -> bool:
        """Whether another node is healthy in every group (the farm is reachable without this one)."""
        client = self._client()
        healthy: Optional[set[str]] = None
        for group in self.groups:
            found = client.describe_target_health(TargetGroupArn=group["arn"])
            ids = {
                d["Target"]["Id"]
                for d in found.get("TargetHealthDescriptions", [])
                if d.get("TargetHealth", {}).get("State") == "healthy" and d["Target"]["Id"] != self.instance_id
            }
            healthy = ids if healthy is None else healthy & ids
        return bool(healthy)

    def register(self) -> None:
        """Into every group it is not already in (a return that ran before, or a node an admin put
        back, is not registered twice); an instance AWS says is gone is a RolloutError."""
        client = self._client()
        states = self.states()
        for group in self.groups:
            if states.get(group["arn"]) in REGISTERED:
                continue
            try:
                client.register_targets(TargetGroupArn=group["arn"], Targets=self._target(group))
            except Exception as exc:
                if error_code(exc) != GONE:
                    raise
                raise RolloutError(
                    f"{self.node} ({self.instance_id}) cannot be put back in its load balancer: AWS answered "
                    f"{GONE} (the instance is not running, or no longer exists). Run `pulumi refresh` and "
                    "`pulumi up`: a node whose instance is gone is created again"
                ) from None

    def drain(self, connections: Optional[NodeConnections] = None) -> None:
        """Out of the load balancer with its connections finished: deregistered, then `unused`
        everywhere, or, when the node can be asked (`connections`), as soon as it has had no client
        connection for a settle time, whichever comes first: the deregistration delay stays the
        upper bound. A node that was not healthy anywhere had no connections to finish."""
        if not self.groups:
            return
        had_clients = any(state in ("healthy", "draining") for state in self.states().values())
        client = self._client()
        for group in self.groups:
            try:
                client.deregister_targets(TargetGroupArn=group["arn"], Targets=self._target(group))
            except Exception as exc:
                # Already out (a drain that ran before, an instance terminated): what a drain wants.
                if error_code(exc) != GONE:
                    raise
        if not had_clients:
            say(f"{self.node} is out of the load balancer (it served no clients)")
            return
        idle = IdleWatch()
        start = clock.now()

        def drained(states: dict[str, str]) -> bool:
            if all(s == "unused" for s in states.values()):
                return True
            if connections is None:
                return False
            if idle.observe(connections.count(), clock.now() - start):
                say(f"{self.node} has served no client for {idle.settle_s:.0f}s")
                return True
            return False

        self._wait(
            drained,
            "drain",
            f"{self.node} did not drain within {self.timeout_s:.0f}s; long git operations may still run "
            "on it (raise the deregistration delay's patience with the timeout, or wait and run `pulumi up` "
            "again)",
        )
        say(f"{self.node} is out of the load balancer (connections drained)")

    def wait_healthy(self) -> None:
        self._wait(
            lambda states: all(s == "healthy" for s in states.values()),
            "become healthy",
            f"{self.node} did not become healthy within {self.timeout_s:.0f}s: check its /status and "
            "`journalctl -u atlbitbucket` on it (README, Troubleshooting); the other nodes keep serving",
        )
        say(f"{self.node} is back in the load balancer")

    def _wait(self, done, what: str, failure: str) -> None:
        """Until `done(states)`, saying every `progress_s` how it is doing; at the deadline a
        RolloutError, `failure` followed by the states the last look found."""
        deadline = clock.Deadline(self.timeout_s)

        def attempt() -> Optional[clock.NotYet[str]]:
            states = self.states()
            return None if done(states) else clock.NotYet(", ".join(sorted(set(states.values()))))

        def progress(states: str) -> None:
            say(f"waiting for {self.node} to {what} ({deadline.elapsed:.0f}s of {self.timeout_s:.0f}s; {states})")

        clock.poll_until(
            deadline,
            attempt,
            every=self.poll_s,
            timed_out=lambda states: RolloutError(f"{failure} (target states: {states})"),
            progress=progress,
            progress_every=self.progress_s,
        )
