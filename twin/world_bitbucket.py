"""Bitbucket on a node of the twin's world: the home it finds mounted, when it starts and stops, and
why it fails (no home, a home of a newer version, a farm it cannot join)."""

from __future__ import annotations

from typing import Optional

from .durations import seconds
from .world_objects import Home, Instance, Run
from .world_state import WorldState


class WorldBitbucket(WorldState):
    """Bitbucket's runs on the world's instances: each instance's timeline of stopped, starting,
    running and failed."""

    # --- Bitbucket ----------------------------------------------------------------------------
    def home_of(self, instance: Instance) -> Optional[Home]:
        volume = self.volumes.get(instance.root.mounted or "")
        if volume is None or volume.attached_to != instance.id:
            return None
        return volume.home

    def stop_bitbucket(self, instance: Instance, reason: str = "") -> None:
        run = instance.run_at(self.now)
        # A start scheduled for later (boot) is cancelled too.
        instance.runs = [r for r in instance.runs if r.since <= self.now]
        if run.state != "stopped":
            instance.runs.append(Run(self.now, "stopped"))
            self._leave_farm(instance)
            self.note(f"Bitbucket stopped on {instance.name} ({reason})")

    def start_bitbucket(self, instance: Instance, at: Optional[float] = None, first: bool = False) -> None:
        """Bitbucket starts at `at` and answers RUNNING once started; a farm node joins its cluster
        (AWS discovery: the running instances with its farm tag) if the versions allow it."""
        at = self.now if at is None else at
        instance.runs = [r for r in instance.runs if r.since <= self.now]
        home = self.home_of(instance)
        version = instance.root.current
        if home is None or version is None or home.properties is None:
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket failed on {instance.name}: no home or no installation")
            return
        if home.version is not None and _newer(home.version, version):
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket {version} refused the home of {instance.name}: it holds {home.version}'s data")
            return
        startup = seconds("bitbucket.first_start" if first else "bitbucket.start")
        mirror_name = self.join_mirror(instance, home, version, at + startup) if self.join_mirror else None
        if mirror_name is None:
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket failed on {instance.name}: it could not join its farm on {version}")
            return
        # Only a node that started (joined its farm) upgrades the home's data; one refused at the
        # join stops before it touches it.
        home.version = version if home.version is None or _newer(version, home.version) else home.version
        instance.runs.append(Run(at, "starting", version, mirror_name))
        instance.runs.append(Run(at + startup, "running", version, mirror_name))
        self.note(f"Bitbucket {version} starting on {instance.name} ({mirror_name})")

    def _leave_farm(self, instance: Instance) -> None:
        for mirror in self.mirrors.values():
            for node in mirror.farm_nodes:
                if node.address == instance.private_ip:
                    node.joined = False


def _newer(a: str, b: str) -> bool:
    return tuple(int(p) for p in a.split(".")) > tuple(int(p) for p in b.split("."))
