"""Clients of each mirror during every `up`: clones over HTTPS and SSH, through DNS and the load balancer.

"Clients notice" is counted, not inferred from a node count: a seeded stream of clones arrives at each
site's base URL (the workload below, stated beside the durations), and each one goes where a real
client's would:
- its host name resolves through the world's DNS (the site's record, or the admin's record when the
  stack has no hosted zone) to the load balancer or, for a single nginx node, to the node;
- a load balancer passes a new connection to a healthy target of the listener's target group (443 for
  HTTPS, 7999 for SSH), or to any registered target when none is healthy (an NLB fails open: AWS,
  "Target groups for your Network Load Balancers", Health checks); the target is picked by a hash of the
  connection, as an NLB's flow hash does;
- the clone fails when nothing answers its connection (no DNS answer, no load balancer or listener yet
  or any more, no target, a target whose Bitbucket does not answer: refused or reset), or when the node
  serving it stops answering before the clone ends (Bitbucket stopped, the instance stopped or gone), or
  the load balancer or listener carrying it is deleted.
A deregistered target keeps the connections it has (an NLB's deregistration delay lets them finish, and
the program leaves `connection_termination` off), so a drain that waits them out cuts nothing.

A site's clients start once it has first served an approved mirror (nobody clones from a mirror
before it is announced) and stop when the site leaves the stack (its users were moved off first).
Clones are played as the modelled clock moves on (clock.Scheduler.watchers), so a step of the `up`
can ask how many clones a node is serving at that moment (`in_flight`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Callable, Optional

from .world import World
from .world_objects import Instance

HTTPS_PORT, SSH_PORT = 443, 7999


@dataclass(frozen=True)
class Workload:
    """The clones each site receives: stated figures, like twin/durations.py's."""

    per_minute: float  # clones starting per minute at each site (a Poisson stream)
    https_share: float  # the rest clone over SSH
    lengths: tuple[tuple[float, float], ...]  # (seconds a clone takes, its share of the clones)
    seed: int
    source: str


WORKLOAD = Workload(
    per_minute=4.0,
    https_share=0.7,
    # Most clones of a mirror are CI fetches of seconds; some are full clones of large repositories
    # of minutes. The longest is 4.5 minutes, under the program's 300 s deregistration delay.
    lengths=((15.0, 0.5), (60.0, 0.3), (180.0, 0.15), (270.0, 0.05)),
    seed=20261207,
    source="stated: 4 clones a minute per site, 70% HTTPS, 15 s to 4.5 min long",
)


@dataclass
class Clone:
    """One client's clone of the seeded workload: when it started and how long it takes, over HTTPS
    or SSH, which node served it (and through which listener), and when and why it was cut if it was."""

    site: str
    number: int
    at: float
    seconds: float
    protocol: str  # "https" or "ssh"
    node: Optional[str] = None  # the instance id that served it
    via: Optional[tuple[str, int]] = None  # (load balancer arn, listener port) when through one
    failed_at: Optional[float] = None
    why: str = ""

    @property
    def end(self) -> float:
        return self.at + self.seconds

    def fail(self, t: float, why: str) -> None:
        self.failed_at, self.why = t, why


@dataclass
class _Stream:
    rng: random.Random
    next_at: float
    count: int = 0


@dataclass
class Clients:
    """The clones of every site, played over modelled time (`advance` is a scheduler watcher)."""

    world: World
    hosts: Callable[[], dict[str, str]]  # site name -> base URL host, for the sites now in the stack
    announced: Callable[[str, float], bool]  # whether a site serves (approved, reached) at t
    workload: Workload = WORKLOAD
    clones: list[Clone] = field(default_factory=list)
    _streams: dict[str, _Stream] = field(default_factory=dict)
    _open: list[Clone] = field(default_factory=list)
    _started: set[str] = field(default_factory=set)

    # --- the clock moves on ---------------------------------------------------------------------
    def advance(self, start: float, end: float) -> None:
        """Clones arriving in [start, end) connect; open clones are checked over (start, end]."""
        for site, host in sorted(self.hosts().items()):
            stream = self._stream(site)
            while stream.next_at < end:
                # Every arrival draws its clone: the workload is one timeline per site from modelled
                # second 0, whatever the up does (which arrivals count depends only on when).
                clone = self._new_clone(site, stream, stream.next_at)
                stream.next_at += stream.rng.expovariate(self.workload.per_minute / 60.0)
                if clone.at < start:
                    continue  # before the site was in the stack (a site added later)
                if site not in self._started:
                    if not self.announced(site, clone.at):
                        continue
                    self._started.add(site)
                self._connect(clone, host)
                self.clones.append(clone)
                if clone.failed_at is None:
                    self._open.append(clone)
        self._check_open(start, end)

    def finish(self, t: float) -> None:
        """The end of an `up`: what is known of the open clones up to t; a site that serves now is
        announced (its users clone from it from now on, through whatever the next `up` does)."""
        self._check_open(t, t)
        for site in self.hosts():
            if site not in self._started and self.announced(site, t):
                self._started.add(site)

    def in_flight(self, instance_id: str, t: float) -> int:
        """Clones a node is serving at t, the clock's now (what `ss` would count on 7990/7999, health
        checks aside)."""
        return sum(1 for c in self._open if c.node == instance_id and c.at <= t < c.end and c.failed_at is None)

    def between(self, site: str, start: float, end: float) -> dict[str, int]:
        """{started, failed} of the clones that arrived at a site in [start, end]."""
        mine = [c for c in self.clones if c.site == site and start <= c.at <= end]
        return {"started": len(mine), "failed": sum(1 for c in mine if c.failed_at is not None)}

    def failures(self, site: str, start: float, end: float) -> list[Clone]:
        return [c for c in self.clones if c.site == site and start <= c.at <= end and c.failed_at is not None]

    # --- one clone ------------------------------------------------------------------------------
    def _stream(self, site: str) -> _Stream:
        if site not in self._streams:
            rng = random.Random(f"{self.workload.seed}/{site}")
            self._streams[site] = _Stream(rng, rng.expovariate(self.workload.per_minute / 60.0))
        return self._streams[site]

    def _new_clone(self, site: str, stream: _Stream, at: float) -> Clone:
        stream.count += 1
        rng = stream.rng
        protocol = "https" if rng.random() < self.workload.https_share else "ssh"
        seconds = rng.choices([s for s, _ in self.workload.lengths], weights=[w for _, w in self.workload.lengths])[0]
        return Clone(site, stream.count, at, seconds, protocol)

    def _connect(self, clone: Clone, host: str) -> None:
        target = self.world.resolve(host, clone.at)  # what the client's resolver holds then (its TTL)
        if target is None:
            clone.fail(clone.at, f"{host} does not resolve")
            return
        kind, value = target
        if kind == "ip":
            instance = self.world.instance_at(value)
            if instance is None or not instance.answers_at(clone.at):
                clone.fail(clone.at, f"connection refused by {value}")
                return
            clone.node = instance.id
            return
        lb = next((b for b in self.world.load_balancers.values() if b.dns_name == value), None)
        port = HTTPS_PORT if clone.protocol == "https" else SSH_PORT
        if lb is None or clone.at < lb.active_at or port not in lb.listeners:
            clone.fail(clone.at, f"no load balancer listening on {value}:{port}")
            return
        instance = self._pick(lb, lb.listeners[port], clone)
        if instance is None:
            clone.fail(clone.at, f"no target behind {value}:{port}")
            return
        if not instance.answers_at(clone.at):
            clone.fail(clone.at, f"{instance.name} does not answer (reset)")
            return
        clone.node, clone.via = instance.id, (lb.arn, port)

    def _pick(self, lb, group_arn: str, clone: Clone) -> Optional[Instance]:
        group = self.world.target_groups.get(group_arn)
        if group is None:
            return None
        # Only targets the load balancer's and the node's security groups let it reach (twin/network.py);
        # failing open goes to targets that failed their checks, not to those still in `initial`.
        states = [
            (i, self.world.health(group, i.id, clone.at)[0])
            for i in self.world.instances.values()
            if self.world.lb_reaches(lb, i, clone.at)
        ]
        healthy = sorted((i for i, s in states if s == "healthy"), key=lambda i: i.name)
        registered = sorted((i for i, s in states if s in ("healthy", "unhealthy")), key=lambda i: i.name)
        candidates = healthy or registered
        if not candidates:
            return None
        digest = hashlib.sha256(f"{clone.site}/{clone.number}".encode()).digest()
        return candidates[int.from_bytes(digest[:4], "big") % len(candidates)]

    # --- clones under way -----------------------------------------------------------------------
    def _check_open(self, start: float, end: float) -> None:
        still = []
        for clone in self._open:
            self._check(clone, start, end)
            if clone.failed_at is None and clone.end > end:
                still.append(clone)
        self._open = still

    def _check(self, clone: Clone, start: float, end: float) -> None:
        if clone.via is not None:
            lb = self.world.load_balancers.get(clone.via[0])
            if lb is None or clone.via[1] not in lb.listeners:
                clone.fail(max(start, clone.at), "its load balancer or listener was deleted")
                return
        instance = self.world.instances.get(clone.node or "")
        if instance is None:
            clone.fail(max(start, clone.at), "its node is gone")
            return
        upto = min(end, clone.end)
        for t in _changes(instance, clone.at, upto):
            if not instance.answers_at(t):
                clone.fail(t, f"cut: {instance.name} stopped answering")
                return


def _changes(instance: Instance, after: float, upto: float) -> list[float]:
    """The instants in (after, upto] at which whether a node answers may change."""
    times = {r.since for r in instance.runs} | {s for s, _ in instance.states}
    return sorted(t for t in times if after < t <= upto)
