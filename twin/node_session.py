"""One command on one node: the world's answers to the shims the command calls (twin/node_host.py).

Only what the OS and the vendor provide is answered here, each from the world at the modelled time:
- systemd: `systemctl start|restart|stop|is-active|enable atlbitbucket` start, stop and report
  Bitbucket on the instance through the world (World.start_bitbucket / stop_bitbucket: the
  emulator's rules for a node joining its farm, an older version refusing a newer home); a unit
  that was never installed does not start ("Unit atlbitbucket.service not found", exit 5). Other
  units (nginx, the metrics timer) are not modelled: they succeed.
- Bitbucket's /status: RUNNING once it has started, STARTING while it starts, else no answer.
- mount/umount/mountpoint: the fstab line's UUID names the volume; it mounts when that volume is
  attached to the instance; mkfs.xfs formats it.
- sleep: modelled seconds; the package manager and downloads: the times in twin/durations.py.
The decisions (what to stop, when to empty a home, what to restart) are the script's.
"""

from __future__ import annotations

import re
from typing import Protocol

from .node_home import read_home, write_home
from .node_host import ScratchRoot
from .vendor import Vendor
from .world import World
from .world_objects import Instance, Run, Volume

SERVICE = "atlbitbucket"
NOT_ANSWERING = 7  # curl: "Failed to connect to host"


class _Faults(Protocol):
    failing_nodes: frozenset[int]


class SessionNode(Protocol):
    """What a session needs of its node (twin/node.py's Node, which imports this module: a Protocol
    keeps the two from importing each other): the world, where the home and the installation are,
    the vendor's downloads, the injected failures, and which volumes hold a file system."""

    world: World
    vendor: Vendor
    faults: _Faults
    home_dir: str
    install_root: str

    def formatted(self, volume: Volume) -> bool: ...

    def format(self, volume: Volume) -> None: ...


class Session:
    """One command on one node: answers the shims it calls (systemd, mount, the vendor's downloads)
    from the world at the modelled time, and keeps the home volume and the root in step with what
    the command wrote."""

    def __init__(self, node: SessionNode, instance: Instance, root: ScratchRoot) -> None:
        self.node, self.world, self.instance, self.root = node, node.world, instance, root
        self.version_before = instance.root.current
        self.spent = False  # did the command spend modelled time in the world?
        self.shown_data = False  # did the mount point show Bitbucket's data when last written?

    # --- the home and the install, between the command and the world -------------------------
    @property
    def home_dir(self):
        return self.root.at(self.node.home_dir)

    def begin(self) -> None:
        self.refresh_devices()
        self.show_home()

    def show_home(self) -> None:
        self.shown_data = write_home(self.world.home_of(self.instance), self.home_dir)

    def sync(self) -> None:
        """What the command wrote so far is the volume's, and the installed version the root's."""
        home = self.world.home_of(self.instance)
        if home is not None and read_home(self.home_dir, home, self.shown_data):
            self.wait("node.wipe")
            self.world.note(f"home of {self.instance.name} emptied by the install (generation {home.generation})")
        link = self.root.at(self.node.install_root) / "current"
        self.instance.root.current = link.readlink().name if link.is_symlink() else None

    def refresh_devices(self) -> None:
        attached = [v for v in self.world.volumes.values() if v.attached_to == self.instance.id]
        self.root.set_devices({v.id: self.node.formatted(v) for v in attached})

    def wait(self, key_or_seconds) -> None:
        self.spent = True
        self.world.wait(key_or_seconds)

    # --- answers ------------------------------------------------------------------------------
    def answer(self, line: str) -> tuple[int, str]:
        words = line.split()
        kind, args = words[0], words[1:]
        if kind == "sleep":
            self.wait(float(args[0]) if args else 0.0)
            self.refresh_devices()
            return 0, ""
        if kind == "status":
            return self.status()
        if kind == "fetch":
            return self.fetch(args[0])
        if kind == "packages":
            return self.packages(args)
        handler = getattr(self, "do_" + kind.replace(".", "_"), None)
        if handler is None:  # a shim without an answer here: a twin bug, said as the command's failure
            return 127, f"twin: no stand-in answers {kind!r}"
        self.sync()
        try:
            return handler(args)
        finally:
            # What the world did (a start records its version and mirror in the home) is the
            # volume's now: the mount point shows it to the rest of the command.
            self.show_home()

    def status(self) -> tuple[int, str]:
        run = self.instance.run_at(self.world.now)
        if self.instance.answers_at(self.world.now):
            return 0, '{"state":"RUNNING"}'
        if run.state == "starting":
            return 0, '{"state":"STARTING"}'
        return NOT_ANSWERING, ""

    def fetch(self, url: str) -> tuple[int, str]:
        republished = _index(self.instance.name) in self.node.faults.republished_nodes
        found = self.node.vendor.fetch(url, republished)
        if found is None:
            return 22, ""
        if found.name.startswith("atlassian-bitbucket-"):
            self.wait("node.download")
        return 0, str(found)

    def packages(self, args: list[str]) -> tuple[int, str]:
        if "install" not in args:
            return 0, ""
        marker = self.root.at("/var/lib/.twin-packages")
        self.wait("node.command" if marker.exists() else "node.packages")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        return 0, ""

    def do_systemctl(self, args: list[str]) -> tuple[int, str]:
        words = [a for a in args if not a.startswith("-")]
        verb, unit = words[0], (words[-1] if len(words) > 1 else "")
        if unit.removesuffix(".service") != SERVICE:
            return 0, ""
        state = self.instance.run_at(self.world.now).state
        if verb == "is-active":
            return (0, "active") if state in ("starting", "running") else (3, "inactive")
        if verb == "enable":
            self.instance.root.enabled = True
            return 0, ""
        if verb in ("stop", "restart") and state != "stopped":
            self.wait("bitbucket.stop")
            self.world.stop_bitbucket(self.instance, reason=f"systemctl {verb} on the node")
        if verb in ("start", "restart"):
            if not self.root.at(f"/etc/systemd/system/{SERVICE}.service").exists():
                return 5, f"Failed to {verb} {SERVICE}.service: Unit {SERVICE}.service not found."
            if self.instance.run_at(self.world.now).state in ("starting", "running"):
                return 0, ""
            self.start()
        return 0, ""

    def start(self) -> None:
        version = self.instance.root.current
        changed = version != self.version_before
        if changed and _index(self.instance.name) in self.node.faults.failing_nodes:
            self.instance.runs.append(Run(self.world.now, "failed", version))
            self.world.note(f"Bitbucket {version} fails to start on {self.instance.name} (injected)")
            return
        home = self.world.home_of(self.instance)
        self.world.start_bitbucket(self.instance, first=home is None or home.mirror is None)

    def do_mount(self, args: list[str]) -> tuple[int, str]:
        target = args[-1] if args else ""
        fstab = self.root.at("/etc/fstab")
        lines = fstab.read_text().splitlines() if fstab.exists() else []
        mount_point = self._node_path(target)
        entry = next((line.split() for line in lines if len(line.split()) > 1 and line.split()[1] == mount_point), None)
        if entry is None:
            return 1, f"mount: {mount_point}: can't find in /etc/fstab."
        volume = self.world.volumes.get("vol-" + entry[0].removeprefix("UUID="))
        if volume is None or volume.attached_to != self.instance.id:
            return 32, f"mount: {mount_point}: special device {entry[0]} does not exist."
        self.instance.root.mounted = volume.id
        self.show_home()
        return 0, ""

    def do_umount(self, args: list[str]) -> tuple[int, str]:
        if self.world.home_of(self.instance) is None:
            return 32, f"umount: {self._node_path(args[-1])}: not mounted."
        self.wait("node.command")
        self.world.note(f"home {self.instance.root.mounted} unmounted on {self.instance.name}")
        self.instance.root.mounted = None
        return 0, ""

    def do_mountpoint(self, args: list[str]) -> tuple[int, str]:
        mounted = self.world.home_of(self.instance) is not None and self._node_path(args[-1]) == self.node.home_dir
        return (0, "") if mounted else (32, "")

    def do_mkfs_xfs(self, args: list[str]) -> tuple[int, str]:
        match = re.search(r"_vol([0-9a-f]+)$", args[-1])
        volume = self.world.volumes.get(f"vol-{match.group(1)}") if match else None
        if volume is None:
            return 1, f"mkfs.xfs: cannot open {args[-1]}"
        self.node.format(volume)
        self.refresh_devices()
        return 0, ""

    def _node_path(self, path: str) -> str:
        """A path the command named, as the node names it (without the scratch root)."""
        prefix = str(self.root.path)
        return path[len(prefix) :] if path.startswith(prefix) else path


def _index(name: str) -> int:
    match = re.search(r"node(\d+)$", name)
    return int(match.group(1)) if match else -1
