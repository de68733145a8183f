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
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

import yaml

import providers.clock
import providers.messages
from twin.emulator import Emulator
from twin.mocks import ProgramMocks
from twin.program import TEST_PASSWORD, stack_file_config

from .aws_api import AwsApi
from .bitbucket_world import BitbucketWorld, _port
from .clients import Clients
from .clock import Scheduler
from .engine import Engine
from .engine_state import UpResult
from .native import Native
from .node import Faults, Node
from .reports import Reports
from .sites import NAMESPACE, Site, sites_of
from .ssm import RunCommand
from .world import World


class Twin(BitbucketWorld, Reports):
    """A twin of `pulumi up` on a set of stack files; its Bitbucket in the world (bitbucket_world)
    and its reports (reports) are mixed in from their modules."""

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


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


__all__ = ["Twin", "Site", "sites_of"]
