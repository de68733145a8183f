"""What a remote Command does on its node: reach it over SSH, then run the command there.

The commands are the program's own (pulumi-command runs them over SSH, twin/rules.py), and the
twin runs them as they are, with bash, in a scratch root per node (twin/node_host.py): the staged
bundle is unpacked by the program's own `tar` line, and the install script is the one the program
rendered and staged (or sent on stdin) for that node. Only what the OS and the vendor provide is a
stand-in: systemd, mount and the package manager answer from the world at the modelled time
(twin/node_session.py), downloads come from local stand-ins of the vendor's servers
(twin/vendor.py). What the script decides (stop for an upgrade, empty a home of another
generation, restart after a change) it decides itself; Bitbucket's answers (starting, joining its
farm, refusing an older version) are the world's and the emulator's.

Reaching the node (pulumi-command provider/pkg/provider/remote/connection.go, Connection.Dial and
dialWithRetry, commit 010bd8e0dd8a): `dialErrorLimit` + 1 attempts (default 10: dialErrorDefault),
each bounded by `perDialTimeout` (default 15 s, ssh.ClientConfig.Timeout) when nothing answers, a
back-off between them of 100 ms growing 1.5x to at most 5 s (pulumi/pulumi
sdk/go/common/util/retry/until.go DefaultDelay/DefaultBackoff/DefaultMaxDelay, commit 1b5949891b3c);
a node is reachable on its public address when it has one, on its private address only through the
bastion (`proxy`), and only when its security groups let the SSH connection in (twin/network.py):
otherwise every attempt is a connect timeout. The host key must be the pinned one.
"""

from __future__ import annotations

import atexit
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from components.host_files.specs import HOME_DIR, INSTALL_ROOT, STAGING_DIR, StagedFile

from .durations import seconds
from .network import Endpoint
from .node_host import ScratchRoot, ShimDirectory, run_in_root
from .node_session import Session
from .vendor import Vendor
from .world import World
from .world_objects import Instance, Root, Volume, WorldError

# A connect that the bastion's sshd makes for a direct-tcpip channel gives up when its kernel does:
# tcp_syn_retries 6, "approximately 127 seconds" (tcp(7)).
PROXY_CONNECT_TIMEOUT_S = 127.0
NO_OP = "true"  # pulumi-command's update that changes nothing (components/node_command.py UNCHANGED)


class CommandFailed(Exception):
    """A pulumi-command step failed on a node: SSH could not dial it, or the command exited non-zero."""


@dataclass
class Faults:
    """Injected failures, by node index: Bitbucket does not start on `failing_nodes` when their
    install changes their version (the install waits for RUNNING, then fails)."""

    failing_nodes: frozenset[int] = frozenset()
    # Nodes with these indexes are served the vendor's republished archives (twin/vendor.py): other
    # bytes that verify against the feed they are served with.
    republished_nodes: frozenset[int] = frozenset()


class Node:
    """The nodes' side of pulumi-command: dials an instance over SSH (through its security groups) and
    runs the command's real script in that instance's scratch root, answering from the world."""

    def __init__(self, world: World, faults: Faults = Faults()) -> None:
        self.world = world
        self.faults = faults
        self.public_keys: dict[str, str] = {}  # private key text -> its public key (tls.PrivateKey)
        self._base = Path(tempfile.mkdtemp(prefix="twin-nodes-"))
        atexit.register(shutil.rmtree, self._base, True)
        self.shims = ShimDirectory(self._base)
        self.vendor = Vendor(self._base)
        self._roots: dict[str, tuple[Root, ScratchRoot]] = {}
        self._formatted: set[str] = set()

    # --- SSH ---------------------------------------------------------------------------------
    def dial(self, connection: dict) -> Instance:
        limit = int(connection.get("dialErrorLimit", 10))
        timeout = float(connection.get("perDialTimeout", 15))
        host = connection.get("host")
        backoff = 0.1
        last = ""
        proxy = connection.get("proxy") or None
        for _attempt in range(limit + 1 if limit >= 0 else 10**6):
            instance = self.world.instance_at(host) if host else None
            dropped = instance is not None and self._dropped(instance, host, proxy)
            reachable = (
                instance is not None
                and not dropped
                and instance.state == "running"
                and self.world.now >= instance.ssh_ready_at
                and (proxy or host == instance.public_ip)
            )
            if reachable:
                self._check_host_key(instance, connection)
                return instance
            timed_out = dropped or instance is None or instance.state != "running"
            last = "i/o timeout" if timed_out else "connection refused"
            # A SYN no rule lets in, or to nothing at the address, is dropped: the connect times out,
            # after perDialTimeout (ssh.ClientConfig.Timeout) from here, or after the bastion's kernel
            # gives up when the bastion dials (proxyClient.Dial has no timeout); a booting node
            # refuses at once.
            self.world.wait((PROXY_CONNECT_TIMEOUT_S if proxy else timeout) if timed_out else 1.0)
            self.world.wait(min(5.0, backoff))
            backoff *= 1.5
        if proxy:
            reason = (
                "connect failed (Connection timed out)"
                if last == "i/o timeout"
                else "connect failed (Connection refused)"
            )
            raise CommandFailed(f"proxy: after {limit} failed attempts: ssh: rejected: {reason} (dial {host}:22)")
        raise CommandFailed(f"Dial: after {limit} failed attempts: dial tcp {host}:22: {last}")

    def _dropped(self, instance: Instance, host: str, proxy: Optional[dict]) -> bool:
        """Whether the node's security groups drop the SSH connection: from the deployer, or from the
        bastion when the connection goes through it (twin/network.py)."""
        source = (
            Endpoint(str(proxy.get("host")), name="bastion")
            if proxy
            else Endpoint(self.world.deployer, name="deployer")
        )
        target = Endpoint(host, instance.security_groups, instance.name)
        return not self.world.network.flow(source, target, 22, self.world.now, f"SSH to {instance.name}")

    def _check_host_key(self, instance: Instance, connection: dict) -> None:
        pinned = connection.get("hostKey")
        if not pinned:
            return
        # The node's user data names the SSM parameter its boot installs as the host key.
        # (The boot script sits in the user data as an escaped string: the name ends at the line's end.)
        match = re.search(r"parameter=('[^']*'|[^\s\\\"]+)", instance.user_data)
        name = shlex.split(match.group(1))[0] if match else ""
        if instance.host_key_pinned is False:  # the boot could not read its key: sshd offers its own
            raise CommandFailed(f"ssh: handshake failed: knownhosts: key mismatch ({instance.name})")
        actual = self.public_keys.get(self.world.parameters.get(name, ""))
        # No key to install (no parameter, or not a key): sshd presents a key of its own making,
        # which is not the pinned one.
        if actual is None or actual.strip() != str(pinned).strip():
            raise CommandFailed(f"ssh: handshake failed: ssh: host key mismatch for {instance.name}")

    # --- commands ----------------------------------------------------------------------------
    def run(self, connection: dict, command: Optional[str], stdin: Optional[str]) -> str:
        if not command:
            return ""
        instance = self.dial(connection)
        if command.strip() == NO_OP:
            return ""  # a round trip far below the model's resolution
        root = self._root(instance, ubuntu=connection.get("user") == "ubuntu")
        staged = root.at(f"{STAGING_DIR}/{StagedFile.INSTALL_SCRIPT}")
        for script in (stdin or "", staged.read_text() if staged.exists() else ""):
            self.vendor.prepare(script)
        session = Session(self, instance, root)
        session.begin()
        try:
            result = run_in_root(root, self.shims, self.vendor.digests, command, stdin, session.answer)
        finally:
            session.sync()
        if not session.spent:
            self.world.wait("node.command")
        if result.returncode != 0:
            # x/crypto/ssh ExitError ("Process exited with status N"), which pulumi-command returns
            # with what the command wrote (its tail here).
            raise CommandFailed(
                f"Process exited with status {result.returncode} on {instance.name}: "
                f"{_tail(result.stderr)}{_tail(result.stdout)}".strip()
            )
        return result.stdout

    def _root(self, instance: Instance, ubuntu: bool) -> ScratchRoot:
        """The instance's root volume: the same one until it is replaced (a new, empty one)."""
        known = self._roots.get(instance.id)
        if known is None or known[0] is not instance.root:
            known = (instance.root, ScratchRoot(self._base, instance.name, ubuntu))
            self._roots[instance.id] = known
        return known[1]

    # --- what the node's shims need from the node ----------------------------------------------
    home_dir = HOME_DIR
    install_root = INSTALL_ROOT

    def formatted(self, volume: Volume) -> bool:
        """A volume holds a file system once formatted, or when it came from a formatted one."""
        home = volume.home
        return volume.id in self._formatted or any(
            (home.generation, home.properties, home.ssh_server_key, home.files, home.version, home.mirror)
        )

    def format(self, volume: Volume) -> None:
        self._formatted.add(volume.id)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) + "\n" if text.strip() else ""


def connection_of(inputs: dict[str, Any]) -> dict:
    return dict(inputs.get("connection") or {})


__all__ = ["Node", "Faults", "CommandFailed", "WorldError", "seconds", "Root"]
