"""Network load balancing in the twin's world: registering and deregistering targets, their health as
the checks find it, and which targets a load balancer routes to (fail open included)."""

from __future__ import annotations

import bisect
from typing import Optional

from .network import Endpoint
from .node_ports import matches, node_answer
from .world_objects import Instance, LoadBalancer, Registration, TargetGroup, WorldError
from .world_state import WorldState


class WorldLoadBalancing(WorldState):
    """The world's target groups and load balancers: target health, registrations, routing."""

    # --- load balancing -----------------------------------------------------------------------
    def health(self, group: TargetGroup, instance_id: str, t: float) -> tuple[str, str]:
        """(state, reason) of a target at t, as DescribeTargetHealth reports it."""
        reg = group.current(instance_id, t)
        instance = self.instances.get(instance_id)
        if reg is None:
            return "unused", "Target.NotRegistered"
        if reg.deregistered_at is not None and reg.deregistered_at <= t:
            if t < reg.deregistered_at + group.deregistration_delay:
                return "draining", "Target.DeregistrationInProgress"
            return "unused", "Target.NotRegistered"
        if instance is None or not instance.running_at(t):
            return "unused", "Target.InvalidState"
        return self._checked(group, instance, reg, t)

    def _checked(self, group: TargetGroup, instance: Instance, reg: Registration, t: float) -> tuple[str, str]:
        """Replays the checks since registration (every `interval`, thresholds as configured). The
        replay up to now is kept as a list of state changes: the past does not change."""
        check = group.check
        key = (group.arn, instance.id, reg.registered_at)
        k, ok, bad, changes = self._health_cache.get(key, (1, 0, 0, [(reg.registered_at, "initial")]))
        if t >= reg.registered_at + k * check.interval:
            changes = list(changes)
            state = changes[-1][1]
            while reg.registered_at + k * check.interval <= t:
                at = reg.registered_at + k * check.interval
                if self._check_passes(group, instance, at):
                    ok, bad = ok + 1, 0
                    new = "healthy" if ok >= check.healthy_threshold else state
                else:
                    ok, bad = 0, bad + 1
                    new = "unhealthy" if bad >= check.unhealthy_threshold else state
                if new != state:
                    changes.append((at, new))
                    state = new
                k += 1
            if t <= self.now:
                self._health_cache[key] = (k, ok, bad, changes)
        state = changes[bisect.bisect_right([c[0] for c in changes], t) - 1][1]
        reason = {"initial": "Elb.InitialHealthChecking", "healthy": "", "unhealthy": "Target.FailedHealthChecks"}
        return state, reason[state]

    def _check_passes(self, group: TargetGroup, instance: Instance, t: float) -> bool:
        """One health check at t: from the load balancer's address (its security groups) to the
        check port, in the check's protocol, the answer against the matcher (NLB guide, "Health
        checks for Network Load Balancer target groups")."""
        check = group.check
        port = group.port if check.port in ("traffic-port", "", None) else int(check.port)
        lb = self.lb_of(group)
        if lb is not None:
            source = Endpoint(lb.address, lb.security_groups, f"load balancer {lb.dns_name}")
            if self.network.blocked(source, self.endpoint(instance), port, t) is not None:
                return False
        status = node_answer(instance, t, check.protocol.upper(), port, check.path)
        if check.protocol.upper() == "TCP":
            return status is not None
        return status is not None and matches(check.matcher, status)

    def lb_of(self, group: TargetGroup) -> Optional[LoadBalancer]:
        return next((lb for lb in self.load_balancers.values() if group.arn in lb.listeners.values()), None)

    def lb_reaches(self, lb: LoadBalancer, instance: Instance, t: float, client: Optional[str] = None) -> bool:
        """A client's connection forwarded to a target: out of the load balancer's groups, into the
        node's, carrying the client's address when the group preserves it (its groups either way)."""
        for group in self.groups_of(lb):
            address = client if client is not None and group.preserve_client_ip else lb.address
            source = Endpoint(address, lb.security_groups, f"load balancer {lb.dns_name}")
            if self.network.blocked(source, self.endpoint(instance), group.port, t) is not None:
                return False
        return True

    def register(self, group: TargetGroup, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is None or instance.state != "running":
            raise WorldError(
                "InvalidTarget",
                f"The following targets are not in a running state and cannot be registered: '{instance_id}'",
            )
        reg = group.current(instance_id, self.now)
        if reg is not None and reg.deregistered_at is None:
            return
        group.registrations.setdefault(instance_id, []).append(Registration(self.now))
        self.note(f"registered {instance.name} in {group.name}")

    def deregister(self, group: TargetGroup, instance_id: str) -> None:
        reg = group.current(instance_id, self.now)
        if reg is not None and reg.deregistered_at is None:
            reg.deregistered_at = self.now
            name = self.instances[instance_id].name if instance_id in self.instances else instance_id
            self.note(f"deregistered {name} from {group.name}")

    def groups_of(self, lb: LoadBalancer) -> list[TargetGroup]:
        return [self.target_groups[arn] for arn in lb.listeners.values() if arn in self.target_groups]

    def routable(self, lb: LoadBalancer, t: float) -> tuple[list[Instance], list[Instance]]:
        """(healthy in every listener's group, registered) at t: an NLB sends new connections to the
        healthy targets, or to every registered one when none is healthy (fail open)."""
        groups = self.groups_of(lb)
        if not groups or t < lb.active_at:
            return [], []
        registered = []
        healthy = []
        for instance in self.instances.values():
            states = [self.health(g, instance.id, t)[0] for g in groups]
            # Fail open is to the targets that failed their checks, not to those still in `initial`
            # (NLB guide: "If all targets fail health checks ... fails open"; a target in `initial`
            # has not been checked, and an NLB routes to no target in `initial`).
            if all(s in ("healthy", "unhealthy") for s in states):
                registered.append(instance)
                if all(s == "healthy" for s in states):
                    healthy.append(instance)
        return healthy, registered

    def check_times(self, start: float, end: float) -> list[float]:
        times: set[float] = set()
        for group in self.target_groups.values():
            for regs in group.registrations.values():
                for reg in regs:
                    k = 1
                    while reg.registered_at + k * group.check.interval <= end:
                        at = reg.registered_at + k * group.check.interval
                        if at >= start:
                            times.add(at)
                        k += 1
        return sorted(times)
