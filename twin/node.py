"""What a remote Command does on its node: reach it over SSH, then run the command.

The commands are the program's own (pulumi-command runs them over SSH, twin/rules.py); what
they do on a node is the contract of the files the program stages there, and each clause below is
what `components/templates/install.sh.j2` does, tested on its own in the install script's scratch
root (tests/host_files/test_install_script.py). A command the twin cannot read fails the step: a
new command must be taught here before the twin will say what it does.

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

import base64
import io
import re
import shlex
import tarfile
from dataclasses import dataclass
from typing import Any, Optional

from .durations import seconds
from .network import Endpoint
from .world import Instance, Run, World, WorldError

STAGING = "/opt/bitbucket-mirror/staging"
SCRIPT = "install.sh"
HOME_DIR = "/var/atlassian/application-data/bitbucket"  # BITBUCKET_HOME in the install script
# A connect that the bastion's sshd makes for a direct-tcpip channel gives up when its kernel does:
# tcp_syn_retries 6, "approximately 127 seconds" (tcp(7)).
PROXY_CONNECT_TIMEOUT_S = 127.0


class CommandFailed(Exception):
    pass


@dataclass
class Faults:
    """Injected failures: Bitbucket does not start on nodes with these indexes when their install
    changes their version (the install waits for RUNNING, then fails)."""

    failing_nodes: frozenset[int] = frozenset()


def unpack_bundle(text: str) -> dict[str, str]:
    raw = base64.b64decode(text)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def script_variables(script: str) -> dict[str, str]:
    """The install script's settings (`NAME=value` lines at the top, shell-quoted)."""
    found = {}
    for line in script.splitlines():
        match = re.match(r"^([A-Z_0-9]+)=(.*)$", line)
        if match and not match.group(2).startswith('"$ROOT"') and "$" not in match.group(2)[:1]:
            try:
                words = shlex.split(match.group(2))
            except ValueError:
                continue
            found[match.group(1)] = words[0] if words else ""
    return found


class Node:
    def __init__(self, world: World, faults: Faults = Faults()) -> None:
        self.world = world
        self.faults = faults
        self.public_keys: dict[str, str] = {}  # private key text -> its public key (tls.PrivateKey)

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
        match = re.search(r"parameter=(\S+)", instance.user_data)
        name = shlex.split(match.group(1))[0] if match else ""
        if instance.host_key_pinned is False:  # the boot could not read its key: sshd offers its own
            raise CommandFailed(f"ssh: handshake failed: knownhosts: key mismatch ({instance.name})")
        actual = self.public_keys.get(self.world.parameters.get(name, ""))
        if actual is not None and actual.strip() != str(pinned).strip():
            raise CommandFailed(f"ssh: handshake failed: host key mismatch for {instance.name}")

    # --- commands ----------------------------------------------------------------------------
    def run(self, connection: dict, command: Optional[str], stdin: Optional[str]) -> str:
        if not command:
            return ""
        instance = self.dial(connection)
        text = command.strip()
        if text == "true":
            return ""
        if "base64 -d | sudo tar -xzf - -C " + STAGING in text:
            self.world.wait("node.command")
            instance.root.staged = unpack_bundle(stdin or "")
            return ""
        if text.startswith(f"sudo bash {STAGING}/{SCRIPT}"):
            mode = text[len(f"sudo bash {STAGING}/{SCRIPT}") :].split()
            return self.install_script(instance, instance.root.staged.get(SCRIPT, ""), mode)
        if text.startswith("sudo bash -s --"):
            return self.install_script(instance, stdin or "", text[len("sudo bash -s --") :].split())
        if "systemctl stop atlbitbucket" in text:
            self.world.wait("bitbucket.stop")
            self.world.stop_bitbucket(instance, reason=text)
            if f"umount {HOME_DIR}" in text and instance.root.mounted is not None:
                # umount of an idle file system (Bitbucket stopped): the volume can be detached.
                self.world.wait("node.command")
                self.world.note(f"home {instance.root.mounted} unmounted on {instance.name}")
                instance.root.mounted = None
            return ""
        if text.startswith("sudo xfs_growfs"):
            self.world.wait("node.command")
            return ""
        if "bitbucket-mirror-metrics.timer" in text:
            self.world.wait("node.command")
            return ""
        raise CommandFailed(f"twin: the node model does not know what this command does: {text[:120]!r}")

    # --- install.sh --------------------------------------------------------------------------
    def install_script(self, instance: Instance, script: str, mode: list[str]) -> str:
        settings = script_variables(script)
        version = settings.get("VERSION")
        if not version:
            raise CommandFailed(f"twin: no install script on {instance.name} (was it staged?)")
        if mode[:1] == ["--stop-for-upgrade"]:
            self._stop_for_upgrade(instance, version, mode[1] if len(mode) > 1 else "")
            return ""
        self._packages(instance)
        if mode[:1] == ["--preflight"]:
            self._unpack(instance, version)
            return f"node ready for Bitbucket {version}"
        if mode:
            raise CommandFailed(f"twin: install.sh mode {mode} is not modelled")
        staged = instance.root.staged
        self._mount_home(instance, settings["HOME_VOLUME_ID"])
        home = self.world.home_of(instance)
        assert home is not None
        changed = self._claim_home(instance, home, staged.get("mirror-generation"))
        changed = self._unpack(instance, version) or changed
        previous = instance.root.current
        if previous != version:
            if previous is not None:
                self._stop(instance, "upgrading in place")
            instance.root.current = version
            changed = True
        properties = staged.get("bitbucket.properties")
        if properties != home.properties:
            home.properties = properties
            changed = True
        unit = staged.get("atlbitbucket.service")
        if unit != instance.root.unit:
            instance.root.unit = unit
            changed = True
        key = staged.get("ssh-server-keys.pem")
        if key is not None and key != home.ssh_server_key:  # install.sh install_ssh_server_key
            home.ssh_server_key = key
            changed = True
        instance.root.enabled = True
        running = instance.run_at(self.world.now).state in ("starting", "running")
        if changed or not running:
            self._stop(instance, "restart")
            if previous != version and _index(instance.name) in self.faults.failing_nodes:
                instance.runs.append(Run(self.world.now, "failed", version))
                self.world.note(f"Bitbucket {version} fails to start on {instance.name} (injected)")
            else:
                self.world.start_bitbucket(instance, first=home.mirror is None)
        self._wait_for_status(instance, int(settings.get("STATUS_TIMEOUT_S", "900")), version)
        return f"Bitbucket {version} is RUNNING as a mirror"

    def _stop_for_upgrade(self, instance: Instance, version: str, wanted: str) -> None:
        """install.sh --stop-for-upgrade: stop a node on another minor line, or whose home belongs to
        another generation; nothing installed yet, or the same line and mirror: keep serving; a
        stopped node that runs exactly the target version starts again."""
        current = instance.root.current
        if current is None:
            return
        home = self.world.home_of(instance)
        marker = home.generation if home is not None else None
        if _line(current) != _line(version) or (wanted and marker and marker != wanted.strip()):
            self._stop(instance, f"the farm restarts on {version}")
        elif current == version and instance.run_at(self.world.now).state == "stopped":
            self.world.wait("node.command")
            self.world.start_bitbucket(instance)

    def _claim_home(self, instance: Instance, home, wanted: Optional[str]) -> bool:
        """install.sh claim_home: a home of another generation is emptied; one without a marker claimed."""
        if wanted is None:
            return False
        wanted = wanted.strip()
        changed = False
        if home.generation is not None and home.generation != wanted:
            self._stop(instance, "the mirror is rebuilt")
            self.world.wait("node.wipe")
            home.properties, home.mirror, home.ssh_server_key, home.files = None, None, None, {}
            home.version = None
            changed = True
            self.world.note(f"home of {instance.name} emptied (generation {home.generation} -> {wanted})")
        home.generation = wanted
        return changed

    def _packages(self, instance: Instance) -> None:
        self.world.wait("node.packages" if not instance.root.packages else "node.command")
        instance.root.packages = True

    def _mount_home(self, instance: Instance, volume_id: str) -> None:
        waited = 0.0
        while waited < 300:
            volume = self.world.volumes.get(volume_id)
            if volume is not None and volume.attached_to == instance.id:
                instance.root.mounted = volume_id
                return
            self.world.wait(2)
            waited += 2
        raise CommandFailed(
            f"bitbucket-mirrors install: ERROR: the home volume {volume_id} did not appear within 300 s"
        )

    def _unpack(self, instance: Instance, version: str) -> bool:
        if version in instance.root.installed:
            return False
        self.world.wait("node.download")
        instance.root.installed.add(version)
        return True

    def _stop(self, instance: Instance, why: str) -> None:
        if instance.run_at(self.world.now).state != "stopped":
            self.world.wait("bitbucket.stop")
            self.world.stop_bitbucket(instance, reason=why)

    def _wait_for_status(self, instance: Instance, timeout_s: int, version: str) -> None:
        waited = 0
        while waited < timeout_s:
            if instance.answers_at(self.world.now):
                return
            self.world.wait(5)
            waited += 5
        raise CommandFailed(
            f"bitbucket-mirrors install: Bitbucket did not reach RUNNING within {timeout_s} s "
            f"on {instance.name} ({version})"
        )


def _line(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _index(name: str) -> int:
    match = re.search(r"node(\d+)$", name)
    return int(match.group(1)) if match else -1


def connection_of(inputs: dict[str, Any]) -> dict:
    return dict(inputs.get("connection") or {})


__all__ = ["Node", "Faults", "CommandFailed", "WorldError", "seconds"]
