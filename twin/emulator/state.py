"""What the emulated primary and mirrors know: projects, mirroring requests, approved mirrors,
each mirror's upstream state and sync settings. Time-driven behaviour (a mirror registering after
N seconds, repositories syncing) is evaluated lazily against the clock on every request, so the
emulator needs no background threads to be exact."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Project:
    """A project on the emulated primary: its key and name, and how many repositories it holds."""

    id: int
    key: str
    name: str
    repos: int

    def json(self, base_url: str) -> dict:
        # No `links`: the vendor's document marks RestProject.links write-only.
        return {"id": self.id, "key": self.key, "name": self.name, "public": False, "type": "NORMAL"}


@dataclass
class FarmNode:
    """One node of a mirror farm: its address, the version it runs, whether it is in the cluster,
    and from when the farm lists it (a started node joins the cluster a little later)."""

    name: str
    address: str
    version: str
    joined: bool = True
    listed_from: float = 0.0

    def listed(self, now: float) -> bool:
        return self.joined and now >= self.listed_from

    def json(self) -> dict:
        return {
            "id": f"{self.name}-id",
            "name": self.name,
            "address": {"address": self.address, "port": 5701},
            "buildVersion": self.version,
            "local": False,
        }


@dataclass
class Mirror:
    """A mirror as the emulated primary knows it: its registration and approval, its upstream state,
    what it syncs, and its farm's nodes (who may join, on which version)."""

    name: str
    base_url: str  # what its registration request claims
    display_name: str = ""  # what its request names it (default: name)
    url: str = ""  # where it really answers (HTTPS)
    http_url: Optional[str] = None
    mirror_type: str = "SINGLE"
    register_after_s: float = 0.0
    created: float = 0.0
    mirror_id: str = field(
        default_factory=lambda: "-".join(uuid.uuid4().hex.upper()[i : i + 4] for i in range(0, 16, 4))
    )
    request_id: Optional[int] = None
    upstream_state: str = "INITIALIZING"
    mode: str = "SELECTED_PROJECTS"
    project_ids: set[int] = field(default_factory=set)
    sync_started: float = 0.0
    farm_nodes: list[FarmNode] = field(default_factory=list)
    upgrade_mode: bool = False
    # Seconds from a node's (re)start until the farm lists it (Hazelcast join); 0: at once.
    join_delay_s: float = 0.0
    # Whether it answers GET admin/license with its Server ID (its mirror_id) to a SYS_ADMIN user:
    # UNCONFIRMED for real mirrors, so tests also model one that does not (404, no licence).
    reports_server_id: bool = True

    def versions(self) -> set[str]:
        return {n.version for n in self.farm_nodes if n.joined}

    def admits(self, node: Optional[FarmNode], version: str) -> bool:
        """Whether a node starting on `version` may join: the others run that version, or upgrade
        mode allows a heterogeneous cluster (the vendor's rolling upgrade, bug-fix versions only)."""
        others = {n.version for n in self.farm_nodes if n.joined and n is not node}
        return not others or others == {version} or (self.upgrade_mode and _same_line(others | {version}))

    def start_node(self, node: FarmNode, version: str, now: float = 0.0) -> bool:
        """A node (re)starting on `version` joins the cluster only if the versions allow it."""
        node.joined = self.admits(node, version)
        node.version = version
        node.listed_from = now + self.join_delay_s
        return node.joined


def _same_line(versions: set[str]) -> bool:
    return len({".".join(v.split(".")[:2]) for v in versions}) == 1


@dataclass
class User:
    """A user of the emulated primary: the password it signs in with, and whether it is a system admin."""

    password: str
    sys_admin: bool


class State:
    """Everything the emulated primary and its mirrors know, read under one lock against one clock
    (modelled time in the twin): the server's version, projects, mirrors and users."""

    def __init__(self, version: str, sync_repos_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        # Every time-driven answer reads this clock (the twin of `pulumi up` passes modelled time).
        self.clock = clock
        self.lock = threading.RLock()
        self.version = version
        self.sync_repos_per_s = sync_repos_per_s
        self.ssh_enabled = True
        self.ssh_port = 7999
        self.licensed_dc = True
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        self.projects_by_id: dict[int, Project] = {}
        self.mirrors: dict[str, Mirror] = {}
        self.requests: dict[int, dict] = {}
        self.mirror_servers: dict[str, dict] = {}
        # When (on the emulator's clock) each mirror was approved and removed: what the twin's report
        # reads to say from when a client's clone works.
        self.approvals: dict[str, list[tuple[float, Optional[float]]]] = {}
        self._next_project_id = 1
        self._next_request_id = 1

    # --- projects ---------------------------------------------------------------------------
    def add_project(self, key: str, name: Optional[str] = None, repos: int = 2) -> int:
        with self.lock:
            project = Project(self._next_project_id, key.upper(), name or key.title(), repos)
            self._next_project_id += 1
            self.projects[project.key] = project
            self.projects_by_id[project.id] = project
            return project.id

    # --- mirroring --------------------------------------------------------------------------
    def tick(self) -> None:
        """Register mirrors whose start-up delay has passed (a mirror registers on first start)."""
        now = self.clock()
        with self.lock:
            for mirror in self.mirrors.values():
                if mirror.request_id is None and now - mirror.created >= mirror.register_after_s:
                    self.register(mirror)

    def register(self, mirror: Mirror) -> dict:
        request = {
            "id": self._next_request_id,
            "mirrorId": mirror.mirror_id,
            "mirrorName": mirror.display_name or mirror.name,
            "mirrorBaseUrl": mirror.base_url,
            "mirrorType": mirror.mirror_type,
            "productVersion": self.version,
            "state": "PENDING",
        }
        self._next_request_id += 1
        self.requests[request["id"]] = request
        mirror.request_id = request["id"]
        mirror.upstream_state = "PENDING"
        return request

    def accept(self, request_id: int) -> Optional[dict]:
        with self.lock:
            request = self.requests.get(request_id)
            if request is None or request["state"] != "PENDING":
                return None
            request["state"] = "ACCEPTED"
            server = {
                "id": request["mirrorId"],
                "name": request["mirrorName"],
                "baseUrl": request["mirrorBaseUrl"],
                "enabled": True,
                "mirrorType": request["mirrorType"],
                "productVersion": request["productVersion"],
                "lastSeenDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            self.mirror_servers[server["id"]] = server
            self.approvals.setdefault(server["id"], []).append((self.clock(), None))
            mirror = self.mirror_by_id(server["id"])
            if mirror is not None:
                mirror.upstream_state = "INSTALLED"
            return server

    def remove_mirror_server(self, mirror_id: str) -> bool:
        with self.lock:
            if self.mirror_servers.pop(mirror_id, None) is None:
                return False
            approved = self.approvals.get(mirror_id) or [(self.clock(), None)]
            self.approvals[mirror_id] = approved[:-1] + [(approved[-1][0], self.clock())]
            mirror = self.mirror_by_id(mirror_id)
            if mirror is not None:
                mirror.upstream_state = "REMOVED"
            return True

    def mirror_by_id(self, mirror_id: str) -> Optional[Mirror]:
        return next((m for m in self.mirrors.values() if m.mirror_id == mirror_id), None)

    def progress(self, mirror: Mirror) -> dict:
        with self.lock:
            if mirror.mode == "ALL_PROJECTS":
                total = sum(p.repos for p in self.projects.values())
            else:
                total = sum(self.projects_by_id[i].repos for i in mirror.project_ids if i in self.projects_by_id)
            synced = min(total, int((self.clock() - mirror.sync_started) * self.sync_repos_per_s))
            return {"discovering": False, "syncedRepos": synced, "totalRepos": total}
