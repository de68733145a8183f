"""What the twin reports of a site over an `up`: how many nodes served when (as a client's clone would
find them: the base URL reaching a node of an approved mirror), the outage, the versions, snapshots
and root replacements, the mirror generations, and whether the site converged."""

from __future__ import annotations

from typing import Optional

from .sites import Site, SiteReport
from .world import Instance

GENERATION = "pulumi-python:dynamic/bitbucket:MirrorGeneration"


class Reports:
    """The Twin's part that reads what clients saw from the world and the emulator."""

    def site_nodes(self, site: Site) -> list[Instance]:
        return sorted(
            (
                i
                for i in self.world.instances.values()
                if i.tags.get("bitbucket-mirrors:site") == site.name and i.state != "terminated"
            ),
            key=lambda i: i.name,
        )

    def _site_instances(self, site: Site) -> list[Instance]:
        """Every instance the site has had, terminated ones too."""
        return [i for i in self.world.instances.values() if i.tags.get("bitbucket-mirrors:site") == site.name]

    def report(self, site: Site, start: float, end: float) -> SiteReport:
        world = self.world
        points = sorted(
            {start, end}
            | {
                t
                for t in world.change_times()
                + world.check_times(start, end)
                + [lb.active_at for lb in world.load_balancers.values()]
                if start <= t <= end
            }
        )
        counts, outage, serving = [], 0.0, []
        for i, t in enumerate(points):
            count, reached = world.serving(site.host, t)
            counts.append(count)
            if not serving or serving[-1][1] != count:
                serving.append((t - start, count))
            if not reached and i + 1 < len(points):
                outage += points[i + 1] - t
        nodes = self.site_nodes(site)
        mirror = self._mirror_of(nodes)
        approved = mirror is not None and mirror.mirror_id in self.emu.state.mirror_servers
        return SiteReport(
            nodes=len(nodes),
            min_serving=min(counts) if counts else 0,
            serving=serving,
            outage_s=outage,
            versions_after=[i.run_at(end).version if i.answers_at(end) else None for i in nodes],
            serving_after=world.serving(site.host, end)[0],
            upgrade_mode_after=bool(mirror is not None and mirror.upgrade_mode),
            approved_after=approved,
            ssh_host_keys=len(
                {
                    home.ssh_server_key
                    for i in nodes
                    if i.answers_at(end)
                    for home in [world.home_of(i)]
                    if home is not None
                }
            ),
            snapshots=sorted(
                (
                    (snap["StartTime"] - start, snap["home"].version)
                    for snap in world.snapshots.values()
                    if snap["volume_tags"].get("bitbucket-mirrors:site") == site.name
                ),
                # A home that never held a version (a new node's) sorts first among snapshots of one instant.
                key=lambda taken: (taken[0], taken[1] or ""),
            ),
            first_stop_s=min(
                (
                    r.since - start
                    for i in self._site_instances(site)
                    for r in i.runs
                    if r.state == "stopped" and start <= r.since <= end
                ),
                default=None,
            ),
            roots_replaced=sum(
                1
                for task in world.root_tasks.values()
                if start <= task["started"] <= end and task["InstanceId"] in {i.id for i in self._site_instances(site)}
            ),
        )

    def serves_from(self, site: Site, start: float, end: float) -> Optional[float]:
        """The first modelled second (from `start`) at which a client's clone works: the base URL
        reaches a node of an approved mirror."""
        approvals = [since for spans in self.emu.state.approvals.values() for since, _ in spans]
        points = sorted(
            {
                t
                for t in self.world.change_times() + self.world.check_times(start, end) + approvals + [end]
                if start <= t <= end
            }
        )
        for t in points:
            if self._serves_at(site, t):
                return t - start
        return None

    def _serves(self, name: str, t: float) -> bool:
        site = next((s for s in self._sites if s.name == name), None)
        return site is not None and self._serves_at(site, t)

    def _serves_at(self, site: Site, t: float) -> bool:
        return self.world.serving(site.host, t)[1] and self._approved_at(site, t)

    def _approved_at(self, site: Site, t: float) -> bool:
        """Whether the site's mirror was approved at t, on the modelled clock (the emulator's)."""
        mirror = self._mirror_of(self.site_nodes(site))
        if mirror is None:
            return False
        return any(
            since <= t and (until is None or t < until)
            for since, until in self.emu.state.approvals.get(mirror.mirror_id, [])
        )

    def _mirror_of(self, nodes: list[Instance]):
        for instance in nodes:
            run = instance.run_at(self.world.now)
            if run.mirror in self.world.mirrors:
                return self.world.mirrors[run.mirror]
        return None

    def record_generations(self) -> None:
        """Each site's mirror generation as the stack's state holds it after an `up` (None: none yet)."""
        held = {
            r.name.removesuffix("-generation"): r.outputs.get("generation")
            for r in self.engine.state.values()
            if r.type == GENERATION
        }
        for name in {s.name for s in self._sites} | set(self.generations):
            self.generations.setdefault(name, []).append(held.get(name))

    def removed_from_primary(self, site: Site) -> bool:
        """No mirror the site ever set up is still registered on the primary."""
        ids = {
            self.world.mirrors[name].mirror_id
            for i in self._site_instances(site)
            for run in i.runs
            for name in [run.mirror]
            if name in self.world.mirrors
        }
        return not ids & set(self.emu.state.mirror_servers)

    def converged(self, site: Site) -> bool:
        report = self.report(site, self.world.now, self.world.now)
        return (
            report.nodes == site.nodes
            and report.versions_after == [site.version] * site.nodes
            and report.serving_after == site.nodes
            and not report.upgrade_mode_after
            and report.approved_after
        )
