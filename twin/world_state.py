"""The state every part of the twin's world shares (twin/world.py assembles them): what exists, the
DNS records' history, the network, and modelled time (waiting in the calling step, the log)."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Optional

from .clock import Scheduler
from .durations import seconds
from .network import Network
from .world_objects import DEPLOYER, Home, Instance, LoadBalancer, TargetGroup, Volume


class WorldState:
    """What the world holds and its clock: the parts of World (EC2, EBS, Bitbucket, load balancing,
    what clients reach) read and change it, and spend modelled time through `wait`."""

    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.instances: dict[str, Instance] = {}
        self.volumes: dict[str, Volume] = {}
        self.target_groups: dict[str, TargetGroup] = {}
        self.load_balancers: dict[str, LoadBalancer] = {}
        self.dns: dict[str, tuple[str, str]] = {}  # host -> ("lb", dns name) | ("ip", address)
        # Every change of a record: (when, answer or None once deleted, the TTL of that answer).
        self.dns_history: dict[str, list[tuple[float, Optional[tuple[str, str]], float]]] = {}
        self.network = Network()
        self.deployer = DEPLOYER
        self.parameter_keys: dict[str, Optional[str]] = {}  # SSM parameter name -> its KMS key
        self.parameters: dict[str, str] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.root_tasks: dict[str, dict[str, Any]] = {}
        self.terminating: dict[str, float] = {}  # instance id -> when EC2 has terminated it
        self.mirrors: dict[str, Any] = {}  # emulator mirror name -> emulator Mirror
        # Which mirror a starting Bitbucket belongs to (set by the twin, which knows the emulator):
        # (instance, home, version, ready_at) -> emulator mirror name, or None when it cannot join.
        self.join_mirror: Optional[Callable[[Instance, Home, str, float], Optional[str]]] = None
        # DNS the admin keeps (no hosted zone in the stack): host -> target.
        self.fallback_dns: Optional[Callable[[str], Optional[tuple[str, str]]]] = None
        self._ids = itertools.count(1)
        self._addresses = itertools.count(10)
        self._round_robin = itertools.count()
        self._health_cache: dict[tuple[str, str, float], tuple[int, int, int, list[tuple[float, str]]]] = {}
        self.log: list[tuple[float, str]] = []

    # --- time ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.sched.now

    def wait(self, key_or_seconds: str | float) -> None:
        """Spend modelled time in the calling step."""
        duration = seconds(key_or_seconds) if isinstance(key_or_seconds, str) else float(key_or_seconds)
        if self.sched.in_process():
            self.sched.sleep(duration)

    def note(self, what: str) -> None:
        self.log.append((self.now, what))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):017x}"
