"""What clients reach in the twin's world: DNS records as Route 53 changes them and resolvers cache
them, whether a connection to a site succeeds, which node serves it, and when any of that may change."""

from __future__ import annotations

from typing import Optional

from .network import Endpoint
from .world_objects import Instance
from .world_state import WorldState


class WorldReach(WorldState):
    """Route 53 records and the way a client's connection goes: name, load balancer, node."""

    # --- what clients reach -------------------------------------------------------------------
    def set_record(self, host: str, answer: Optional[tuple[str, str]], ttl: float) -> None:
        """Route 53 changes a record (None: deletes it); resolvers keep what they cached for its TTL."""
        if answer is None:
            self.dns.pop(host, None)
        else:
            self.dns[host] = answer
        self.dns_history.setdefault(host, []).append((self.now, answer, float(ttl)))

    def resolve(self, host: str, t: Optional[float] = None) -> Optional[tuple[str, str]]:
        """What a client resolves at t: a client that resolved just before a change keeps the old
        answer until that answer's TTL has passed (RFC 1035 §3.2.1, TTL: "the time interval that
        the resource record may be cached"), so the new answer is everyone's only from change + TTL."""
        t = self.now if t is None else t
        history = self.dns_history.get(host)
        if history:
            found, previous_ttl = None, 0.0
            for since, answer, ttl in history:
                if since + previous_ttl <= t:
                    found = answer
                elif since > t:
                    break
                previous_ttl = ttl
        else:
            found = self.dns.get(host)
        if found is None and self.fallback_dns is not None:
            found = self.fallback_dns(host)
        return found

    def reaches_site(self, host: str, source: str, port: int, t: float) -> Optional[str]:
        """Why a new connection from `source` (an address outside the VPC: a client, the primary, the
        deployer) to host:port at t fails, or None when a node answers it: the name as the source's
        resolver holds it, the load balancer's groups letting it in on the listener, and a target
        the load balancer may reach (or the node's own groups, nginx mode)."""
        target = self.resolve(host, t)
        if target is None:
            return f"{host} does not resolve"
        kind, value = target
        origin = Endpoint(source, name="source")
        if kind == "ip":
            instance = self.instance_at(value)
            if instance is None or not instance.answers_at(t):
                return f"nothing answers at {value}"
            return self.network.blocked(origin, Endpoint(value, instance.security_groups, instance.name), port, t)
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None or port not in lb.listeners or t < lb.active_at:
            return f"no load balancer listening on {value}:{port}"
        refused = self.network.blocked(
            origin, Endpoint(lb.address, lb.security_groups, f"load balancer {value}"), port, t
        )
        if refused is not None:
            return refused
        healthy, registered = self.routable(lb, t)
        if not any(self.lb_reaches(lb, i, t, client=source) and i.answers_at(t) for i in healthy or registered):
            return f"no target behind {value}:{port} answers"
        return None

    def serving(self, host: str, t: float) -> tuple[int, bool]:
        """(nodes healthy behind the host's load balancer and answering, whether a client's request
        at t succeeds). A single nginx node serves when it answers."""
        target = self.resolve(host, t)
        if target is None:
            return 0, False
        kind, value = target
        if kind == "ip":
            instance = self.instance_at(value)
            ok = instance is not None and instance.answers_at(t)
            return int(ok), ok
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None:
            return 0, False
        healthy, registered = self.routable(lb, t)
        healthy = [i for i in healthy if self.lb_reaches(lb, i, t)]
        registered = [i for i in registered if self.lb_reaches(lb, i, t)]
        answering = [i for i in healthy if i.answers_at(t)]
        # Requests go to the healthy targets, or to every registered one when none is (fail open).
        reached = answering if healthy else [i for i in registered if i.answers_at(t)]
        return len(answering), bool(reached)

    def route(self, host: str) -> Optional[Instance]:
        """The node a new connection to `host` reaches now, if it answers (round robin among the
        targets the load balancer routes to)."""
        target = self.resolve(host)
        if target is None:
            return None
        kind, value = target
        if kind == "ip":
            instance = self.instance_at(value)
            return instance if instance is not None and instance.answers_at(self.now) else None
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None:
            return None
        healthy, registered = self.routable(lb, self.now)
        candidates = sorted(
            (i for i in (healthy or registered) if self.lb_reaches(lb, i, self.now)), key=lambda i: i.name
        )
        if not candidates:
            return None
        chosen = candidates[next(self._round_robin) % len(candidates)]
        return chosen if chosen.answers_at(self.now) else None

    def change_times(self) -> list[float]:
        """Every instant at which what clients see may change: health checks, registrations,
        Bitbucket and instance state changes."""
        times: set[float] = set()
        for instance in self.instances.values():
            times |= {r.since for r in instance.runs} | {s for s, _ in instance.states}
        for group in self.target_groups.values():
            for regs in group.registrations.values():
                for reg in regs:
                    times.add(reg.registered_at)
                    if reg.deregistered_at is not None:
                        times |= {reg.deregistered_at, reg.deregistered_at + group.deregistration_delay}
        for history in self.dns_history.values():  # a change, and when every cached old answer expired
            previous_ttl = 0.0
            for since, _, ttl in history:
                times |= {since, since + previous_ttl}
                previous_ttl = ttl
        return sorted(times)
