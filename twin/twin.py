"""A twin of `pulumi up` on a stack: the world, the Bitbucket emulator as the primary and the
mirrors, the engine, and what clients saw while it ran.

The primary of every stack is the emulator (its host name resolves to it, and its CA becomes
`primary.caBundle`, the same in every stack so that nothing changes because of it); each mirror's
base URL resolves, through the world's DNS, to the site's load balancer or node, as a client's
would. The providers run for real in this process: their waits take modelled time (providers.clock,
and time.sleep in the simulated threads), boto3 answers from the world (aws_api), requests reach
the emulator through the world's DNS and load balancers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

import yaml

import providers.clock
import providers.messages
from twin import javaprops
from twin.emulator import Emulator
from twin.mocks import ProgramMocks
from twin.program import TEST_PASSWORD, stack_file_config

from .aws_api import AwsApi
from .clients import Clients
from .clock import Scheduler
from .durations import seconds
from .engine import Engine
from .engine_state import UpResult
from .native import Native
from .network import Endpoint
from .node import Faults, Node
from .ssm import RunCommand
from .world import PRIMARY, Home, Instance, World

NAMESPACE = "bitbucket-mirrors"
GENERATION = "pulumi-python:dynamic/bitbucket:MirrorGeneration"


@dataclass(frozen=True)
class Site:
    name: str
    host: str
    nodes: int
    version: str
    behind_lb: bool


@dataclass
class SiteReport:
    nodes: int
    min_serving: int
    outage_s: float
    versions_after: list[Optional[str]]
    serving_after: int
    upgrade_mode_after: bool
    approved_after: bool
    ssh_host_keys: int = 0  # distinct SSH host keys the serving nodes present on 7999
    serving_from_s: Optional[float] = None
    # EBS snapshots of the site's homes that exist at the end: (seconds from the start it was taken,
    # the Bitbucket version its home held); and when Bitbucket first stopped on a node.
    snapshots: list[tuple[float, Optional[str]]] = field(default_factory=list)
    first_stop_s: Optional[float] = None
    roots_replaced: int = 0  # root volume replacements during the window
    # Nodes serving over the `up`: [seconds from its start, how many] each time the number changes.
    serving: list[tuple[float, int]] = field(default_factory=list)

    def json(self) -> dict:
        return {
            "nodes": self.nodes,
            "min_serving": self.min_serving,
            "outage_s": round(self.outage_s, 1),
            "versions_after": self.versions_after,
            "serving_after": self.serving_after,
            "upgrade_mode_after": self.upgrade_mode_after,
            "approved_after": self.approved_after,
            "ssh_host_keys": self.ssh_host_keys,
            "snapshots": [[round(t, 1), v] for t, v in self.snapshots],
            "first_stop_s": round(self.first_stop_s, 1) if self.first_stop_s is not None else None,
            "roots_replaced": self.roots_replaced,
            "serving": [[round(t, 1), n] for t, n in self.serving],
            **({"serving_from_s": round(self.serving_from_s, 1)} if self.serving_from_s is not None else {}),
        }


def sites_of(config: dict[str, str]) -> list[Site]:
    mirrors = json.loads(config[f"{NAMESPACE}:mirrors"])
    return [
        Site(
            m["name"],
            urlsplit(m["baseUrl"]).hostname or "",
            int(m.get("nodes", 1)),
            m.get("bitbucketVersion", "9.4.16"),
            (m.get("tls") or {}).get("mode", "acm") == "acm",
        )
        for m in mirrors
    ]


class Twin:
    def __init__(self, stack_files: list[Path], *, parallel: Optional[int] = None) -> None:
        self.sched = Scheduler()
        self.world = World(self.sched)
        configs = [stack_file_config(Path(f)) for f in stack_files]
        hosts = sorted(
            {urlsplit(json.loads(c[f"{NAMESPACE}:primary"])["url"]).hostname or "" for c, _ in configs}
            | {s.host for c, _ in configs for s in sites_of(c)}
        )
        primary = json.loads(configs[0][0][f"{NAMESPACE}:primary"])
        self.emu = Emulator(
            username=primary["username"],
            password=TEST_PASSWORD,
            clock=lambda: self.sched.now,
            hostnames=tuple(hosts),
            sync_repos_per_s=20.0,
        )
        self.emu.start()
        self.primary_hosts = {urlsplit(json.loads(c[f"{NAMESPACE}:primary"])["url"]).hostname for c, _ in configs}
        for config, _ in configs:
            for mirror in json.loads(config[f"{NAMESPACE}:mirrors"]):
                for key in mirror.get("projects", []):
                    if key.upper() not in self.emu.state.projects:
                        self.emu.add_project(key)
        self.doors = {host: self._front_door(host) for host in {s.host for c, _ in configs for s in sites_of(c)}}
        self.faults = Faults()
        self.node = Node(self.world, self.faults)
        self.api = AwsApi(self.world)
        self.native = Native(self.world, self.node, self.world.zone_of)
        self.world.join_mirror = self._join_mirror
        self.world.fallback_dns = self._admin_dns
        self._mocks = ProgramMocks()
        self.engine = Engine(self.sched, self.native, self._invoke, {}, [], parallel=parallel)
        self._sites: list[Site] = []
        self._ever: dict[str, Site] = {}  # every site any deployed file had, by host (the admin's DNS)
        self._mirror_count = 0
        self.generations: dict[str, list[Optional[str]]] = {}  # site -> its generation after each up
        self.clients = Clients(self.world, hosts=lambda: {s.name: s.host for s in self._sites}, announced=self._serves)
        self.sched.watchers.append(self.clients.advance)
        # What a drain asks a node (SSM Run Command) is answered from these clients.
        self.run_command = RunCommand(self.api, self.world, self.clients)

    def _invoke(self, args) -> dict:
        """The data sources the program reads from what exists (the world); the fixed lookups (the
        default VPC, its subnets, the AMI) as the program's unit-test mocks answer them."""
        found = self.world.data_source(args.token, dict(args.args))
        return found if found is not None else self._mocks.call(args)

    def close(self) -> None:
        self.sched.stop()
        self.emu.stop()

    # --- deployments ----------------------------------------------------------------------------
    def configure(self, stack_file: Path) -> None:
        config, secret_keys = stack_file_config(Path(stack_file))
        primary = json.loads(config[f"{NAMESPACE}:primary"])
        primary["caBundle"] = self.emu.ca_pem  # the emulator is every stack's primary
        config[f"{NAMESPACE}:primary"] = json.dumps(primary)
        self.engine.config, self.engine.secret_keys = config, secret_keys
        self._sites = sites_of(config)
        self._ever.update({site.host: site for site in self._sites})

    def preview(self, stack_file: Path) -> UpResult:
        self.configure(stack_file)
        with self._patched():
            return self.engine.preview()

    def up(
        self, stack_file: Path, *, kill_after: Optional[int] = None, failing_nodes: frozenset[int] = frozenset()
    ) -> UpResult:
        self.configure(stack_file)
        self.faults.failing_nodes = failing_nodes
        try:
            with self._patched():
                result = self.engine.up(kill_after=kill_after)
        finally:
            self.faults.failing_nodes = frozenset()
        self.clients.finish(self.sched.now)
        if self.sched.watcher_errors:
            raise RuntimeError(f"the twin's clients failed: {self.sched.watcher_errors[0]!r}")
        return result

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        sched = self.sched
        real_now, real_sleep, real_time_sleep = providers.clock.now, providers.clock.sleep, time.sleep
        import urllib3.util.connection as connection

        real_connect = connection.create_connection

        def now() -> float:
            return sched.now if sched.in_process() else real_now()

        def sleep(seconds_: float) -> None:
            if sched.in_process():
                sched.sleep(seconds_)
            else:
                real_time_sleep(seconds_)

        def connect(address, *args, **kwargs):
            host, port = address
            if host in self.primary_hosts:
                return real_connect(("127.0.0.1", _port(self.emu.primary_url)), *args, **kwargs)
            if host in self.doors:
                if self.world.resolve(host) is None:
                    raise socket.gaierror(-2, f"Name or service not known: {host}")
                return real_connect(("127.0.0.1", self.doors[host]), *args, **kwargs)
            return real_connect(address, *args, **kwargs)

        def warn(urn: str, message: str) -> bool:
            # The engine's Log service, as the providers reach it in the host the engine starts.
            deployment = self.engine.current
            if deployment is not None:
                deployment.warnings.append((urn, message))
            return True

        real_sink = providers.messages.sink
        providers.messages.sink = warn
        providers.clock.now, providers.clock.sleep = now, sleep
        time.sleep = sleep
        connection.create_connection = connect
        self.api.install()
        try:
            yield
        finally:
            providers.clock.now, providers.clock.sleep = real_now, real_sleep
            providers.messages.sink = real_sink
            time.sleep = real_time_sleep
            connection.create_connection = real_connect
            self.api.uninstall()

    def settle(self, seconds_: float) -> None:
        """Let modelled time pass with no deployment running (health checks go on)."""
        import threading

        def idle() -> None:
            self.sched.enter("~settle")
            self.sched.sleep(seconds_)
            self.sched.leave()

        thread = threading.Thread(target=idle, daemon=True)
        thread.start()
        thread.join()

    # --- the world's Bitbucket and DNS ----------------------------------------------------------
    def _front_door(self, host: str) -> int:
        def resolve():
            instance = self.world.route(host)
            if instance is None:
                return None
            mirror = self.world.mirrors.get(instance.run_at(self.world.now).mirror or "")
            return (mirror, instance.private_ip) if mirror is not None else None

        return _port(self.emu.add_front_door(host, resolve))

    def _admin_dns(self, host: str) -> Optional[tuple[str, str]]:
        """A site with no hosted zone in its stack: the admin points its name at the load balancer
        (or the node) as soon as it exists."""
        # The admin's record outlives the site's entry in the stack: it points where it did until
        # someone removes it (a removed site's teardown still reaches its mirror through it).
        site = self._ever.get(host)
        if site is None:
            return None
        for lb in self.world.load_balancers.values():
            if site.name in lb.dns_name:
                return ("lb", lb.dns_name)
        node0 = next(
            (i for i in self.world.instances.values() if i.name == f"{site.name}-node0" and i.state != "terminated"),
            None,
        )
        if node0 is not None:
            return ("ip", node0.public_ip or node0.private_ip)
        return None

    def _join_mirror(self, instance: Instance, home: Home, version: str, ready_at: float) -> Optional[str]:
        """Which mirror a starting Bitbucket serves: a farm node joins the running nodes that carry its
        farm's tag and group (Hazelcast AWS discovery) if the versions allow; otherwise it is the mirror
        its home belongs to; a home without one sets up a new mirror, which registers with the primary."""
        props = javaprops.parse(home.properties or "")
        now = self.world.now
        name: Optional[str] = None
        # Hazelcast's AWS discovery lists the region's instances with the node's role; a refused call
        # finds no member, and a member it cannot reach on 5701 (both ways) is not joined: the node is
        # alone (twin/network.py).
        discovers = props.get("hazelcast.network.aws") == "true" and self.world.node_calls(
            instance, "ec2:DescribeInstances", "*", {"ec2:Region": instance.region}
        )
        if discovers:
            key, value = props.get("hazelcast.network.aws.tag.key"), props.get("hazelcast.network.aws.tag.value")
            group = props.get("hazelcast.group.name")
            for other in sorted(self.world.instances.values(), key=lambda i: i.name):
                run = other.run_at(now)
                other_home = self.world.home_of(other)
                if (
                    other is not instance
                    and other.state == "running"
                    and other.tags.get(key or "") == value
                    and run.state in ("starting", "running")
                    and run.mirror
                    and other_home is not None
                    and javaprops.parse(other_home.properties or "").get("hazelcast.group.name") == group
                    and self._hazelcast_reaches(instance, other, now)
                ):
                    name = run.mirror
                    break
        if name is None and home.mirror in self.world.mirrors:
            name = home.mirror
        if name is None and not self._reaches_primary(instance, now):
            self.world.note(f"Bitbucket on {instance.name} cannot reach the primary to set up its mirror")
            return None
        if name is None:
            self._mirror_count += 1
            name = f"mirror-{self._mirror_count}"
            mirror = self.emu.add_mirror(
                name,
                base_url=props.get("setup.baseUrl"),
                serve=False,
                nodes=0,
                register_after_s=(ready_at - now) + seconds("bitbucket.register"),
                mirror_type="FARM" if props.get("hazelcast.network.aws") == "true" else "SINGLE",
                join_delay_s=seconds("bitbucket.join"),
            )
            mirror.display_name = props.get("setup.displayName", name)
            self.world.mirrors[name] = mirror
        mirror = self.world.mirrors[name]
        from twin.emulator.state import FarmNode

        node = next((n for n in mirror.farm_nodes if n.address == instance.private_ip), None)
        if node is None:
            node = FarmNode(instance.name, instance.private_ip, version, joined=False)
            mirror.farm_nodes.append(node)
        if not mirror.start_node(node, version, now=ready_at):
            return None
        home.mirror = name
        return name

    def _hazelcast_reaches(self, instance: Instance, other: Instance, now: float) -> bool:
        network, a, b = self.world.network, self.world.endpoint(instance), self.world.endpoint(other)
        what = f"Hazelcast {instance.name} <-> {other.name}"
        return network.flow(a, b, 5701, now, what) and network.flow(b, a, 5701, now, what)

    def _reaches_primary(self, instance: Instance, now: float) -> bool:
        """A new mirror registers with the primary and fetches from it: HTTPS and the primary's SSH
        port out of the node (docs/bitbucket-facts.md: the mirror reaches the primary on 443 and its SSH port)."""
        primary = json.loads(self.engine.config.get(f"{NAMESPACE}:primary", "{}"))
        source, target = self.world.endpoint(instance), Endpoint(PRIMARY, name="primary")
        return all(
            self.world.network.flow(source, target, port, now, f"{instance.name} to the primary")
            for port in (443, int(primary.get("sshPort", 7999)))
        )

    # --- what clients saw -----------------------------------------------------------------------
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


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


__all__ = ["Twin", "Site", "SiteReport", "sites_of", "field"]
