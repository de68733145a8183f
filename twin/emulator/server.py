"""HTTPS servers that answer like a Bitbucket Data Center primary and its mirrors (paths, JSON
shapes, paging and status codes per the vendor's OpenAPI document and docs/bitbucket-facts.md), with a
request log, fixed latency and fault injection."""

from __future__ import annotations

import base64
import json
import random
import re
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

import trustme

from .state import FarmNode, Mirror, State, User

API = r"/rest/(?:api|mirroring|ssh)/(?:latest|1\.0)"
PRIMARY_SERVER_ID = "B1F2-C3D4-E5F6-A7B8"
MAX_PAGE = 1000


@dataclass(frozen=True)
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("503", "429", "drop")
    retry_after_s: int = 1
    seed: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    server: str
    method: str
    path: str
    query: dict
    headers: dict
    status: int
    ts: float


class NoAnswer(Exception):
    """The connection is dropped without an answer (nothing behind a load balancer serves)."""


class Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: Optional[dict] = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def error(status: int, message: str, exception: str = "com.atlassian.bitbucket.ServiceException") -> Reply:
    return Reply(status, {"errors": [{"message": message, "exceptionName": exception}]})


def page(values: list, query: dict) -> dict:
    start = int(query.get("start", 0))
    limit = min(int(query.get("limit", 25)), MAX_PAGE)
    chunk = values[start : start + limit]
    last = start + limit >= len(values)
    body = {"size": len(chunk), "limit": limit, "isLastPage": last, "start": start, "values": chunk}
    if not last:
        body["nextPageStart"] = start + limit
    return body


@dataclass
class Stats:
    """Successful (2xx) calls per method and route pattern: proves a side effect happened once."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, route: str) -> None:
        with self.lock:
            self.counts[(method, route)] = self.counts.get((method, route), 0) + 1

    def successful(self, method: str, route: str) -> int:
        return self.counts.get((method, route), 0)


class Emulator:
    def __init__(
        self,
        latency_s: float = 0.0,
        faults: Faults = Faults(),
        username: str = "admin",
        password: str = "s3cret",
        version: str = "9.4.16",
        sync_repos_per_s: float = 50.0,
        clock: Callable[[], float] = time.monotonic,
        hostnames: tuple[str, ...] = (),
    ) -> None:
        self.latency_s = latency_s
        self.state = State(version, sync_repos_per_s, clock)
        self.state.users[username] = User(password, sys_admin=True)
        self.log: list[LoggedRequest] = []
        self.stats = Stats()
        self._log_lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self.set_faults(faults)
        self._ca = trustme.CA()
        self._ca_file = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
        self._ca_file.write(self._ca.cert_pem.bytes().decode())
        self._ca_file.close()
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost", *hostnames)
        self.primary_url = ""

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Emulator":
        self.primary_url = self._serve("primary", PrimaryRoutes(self).handle, tls=True)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def ca_pem(self) -> str:
        return self._ca.cert_pem.bytes().decode()

    @property
    def ca_file(self) -> str:
        return self._ca_file.name

    # --- scripting --------------------------------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)

    def add_user(self, username: str, password: str, sys_admin: bool) -> None:
        self.state.users[username] = User(password, sys_admin)

    def add_project(self, key: str, name: Optional[str] = None, repos: int = 2) -> int:
        return self.state.add_project(key, name, repos)

    def add_projects(self, n: int, prefix: str = "P", repos: int = 2) -> list[str]:
        keys = [f"{prefix}{i:05d}" for i in range(n)]
        for key in keys:
            self.add_project(key, repos=repos)
        return keys

    def add_mirror(
        self,
        name: str,
        base_url: Optional[str] = None,
        register_after_s: float = 0.0,
        mirror_type: str = "SINGLE",
        plain_http: bool = False,
        nodes: int = 1,
        serve: bool = True,
        join_delay_s: float = 0.0,
    ) -> Mirror:
        """A mirror that registers with the primary `register_after_s` from now. `serve=False`: it gets
        no server of its own and is reached through a front door (`add_front_door`)."""
        now = self.state.clock()
        mirror = Mirror(
            name=name,
            base_url="",
            mirror_type=mirror_type,
            register_after_s=register_after_s,
            created=now,
            sync_started=now,
            join_delay_s=join_delay_s,
            farm_nodes=[FarmNode(f"{name}-node{i}", f"10.0.0.{10 + i}", self.state.version) for i in range(nodes)],
        )
        if serve:
            routes = MirrorRoutes(self, mirror).handle
            mirror.url = self._serve(name, routes, tls=True)
            if plain_http:
                mirror.http_url = self._serve(name, routes, tls=False)
        mirror.base_url = base_url or mirror.url
        with self.state.lock:
            self.state.mirrors[name] = mirror
        return mirror

    def add_front_door(self, name: str, resolve: Callable[[], Optional[tuple[Mirror, str]]]) -> str:
        """An HTTPS server for a host name whose mirror is decided per request: `resolve()` returns the
        mirror and the address of the node that answers, or None when the connection gets no answer."""

        def routes(method: str, path: str, query: dict, body: Any, user) -> Any:
            found = resolve()
            if found is None:
                raise NoAnswer()
            mirror, node = found
            return MirrorRoutes(self, mirror, node).handle(method, path, query, body, user)

        return self._serve(name, routes, tls=True)

    def mirror(self, name: str) -> Mirror:
        return self.state.mirrors[name]

    def remove_mirror_server(self, mirror_id: str) -> bool:
        return self.state.remove_mirror_server(mirror_id)

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()

    def requests_to(self, server: str) -> list[LoggedRequest]:
        return [r for r in self.log if r.server == server]

    # --- plumbing ---------------------------------------------------------------------------
    def _serve(self, name: str, routes: Callable, tls: bool) -> str:
        emulator = self

        class Handler(_Handler):
            server_name_ = name
            route = staticmethod(routes)
            emu = emulator

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._cert.configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=f"emulator-{name}"
        ).start()
        self._servers.append(server)
        return f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.log.append(entry)

    def _pick_fault(self) -> Optional[str]:
        if self.faults.rate <= 0:
            return None
        with self._log_lock:
            if self._random.random() >= self.faults.rate:
                return None
            return self._random.choice(self.faults.kinds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name_: str
    route: Callable
    emu: Emulator

    def log_message(self, *args) -> None:  # the request log replaces stderr noise
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm and the client's
        # delayed ACK hold every answer back by tens of milliseconds.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        emu = self.emu
        parts = urlsplit(self.path)
        # Bitbucket may run under a context path (https://host/bitbucket/rest/...): served the same.
        for anchor in ("/rest/", "/status"):
            if anchor in parts.path and not parts.path.startswith(anchor):
                parts = parts._replace(path=parts.path[parts.path.index(anchor) :])
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if emu.latency_s:
            time.sleep(emu.latency_s)
        fault = emu._pick_fault()
        status = 0
        logged = False
        try:
            if fault in ("drop",):
                self._drop()
                return
            if fault and fault not in ("drop_after",):
                status = int(fault)
                headers = {"Retry-After": str(emu.faults.retry_after_s)} if status == 429 else {}
                self._log(status)
                logged = True
                self._send(
                    status, {"errors": [{"message": "injected fault", "exceptionName": "emulator.Fault"}]}, headers
                )
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            emu.state.tick()
            try:
                result = self.route(self.command, parts.path, query, body, self._user())
                reply = result if isinstance(result, Reply) else Reply(200, result)
            except Reply as r:
                reply = r
            except NoAnswer:
                self._drop()
                return
            status = reply.status
            if fault == "drop_after":
                self._drop()
                return
            # Logged before the answer leaves: a client that has its answer finds the request logged.
            self._log(status)
            logged = True
            self._send(reply.status, reply.body, reply.headers)
        finally:
            if not logged:
                self._log(status)

    def _log(self, status: int) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.emu._record(
            LoggedRequest(
                self.server_name_, self.command, parts.path, query, dict(self.headers.items()), status, time.time()
            )
        )

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def _user(self) -> Optional[tuple[str, User]]:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        user = self.emu.state.users.get(name)
        return (name, user) if user and user.password == password else None

    def _send(self, status: int, body: Any, headers: dict) -> None:
        data = b"" if body is None or status == 204 else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _require(user: Optional[tuple[str, User]], admin: bool = True, status_if_not_admin: int = 403) -> None:
    if user is None:
        raise error(
            401,
            "Authentication failed. Please check your credentials and try again.",
            "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
        )
    if admin and not user[1].sys_admin:
        raise error(
            status_if_not_admin,
            "You are not permitted to access this resource",
            "com.atlassian.bitbucket.AuthorisationException",
        )


class PrimaryRoutes:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.state = emu.state

    def handle(self, method: str, path: str, query: dict, body: Any, user) -> Any:
        state, emu = self.state, self.emu
        if method == "GET" and re.fullmatch(rf"{API}/application-properties", path):
            return {
                "version": state.version,
                "buildNumber": state.version.replace(".", "") + "000",
                "buildDate": "1719900000000",
                "displayName": "Bitbucket",
            }
        if re.fullmatch(r"/status", path):
            return {"state": "RUNNING"}
        if method == "GET" and re.fullmatch(rf"{API}/settings", path) and "/ssh/" in path:
            _require(user, admin=False)
            return {
                "enabled": state.ssh_enabled,
                "port": state.ssh_port,
                "accessKeysEnabled": True,
                "baseUrl": f"ssh://git@127.0.0.1:{state.ssh_port}",
            }
        if method == "GET" and re.fullmatch(rf"{API}/admin/license", path):
            _require(user)
            return {
                "creationDate": 1700000000000,
                "expiryDate": 1900000000000,
                "maximumNumberOfUsers": 500,
                "unlimitedNumberOfUsers": False,
                "serverId": PRIMARY_SERVER_ID,
                "supportEntitlementNumber": "SEN-123456",
                "status": {"dataCenter": state.licensed_dc, "serverId": PRIMARY_SERVER_ID},
                "license": "AAAB-emulated",
            }
        if method == "GET" and re.fullmatch(rf"{API}/projects", path):
            _require(user, admin=False)
            with state.lock:
                values = [p.json(emu.primary_url) for p in sorted(state.projects.values(), key=lambda p: p.id)]
            return page(values, query)
        match = re.fullmatch(rf"{API}/projects/([^/]+)", path)
        if method == "GET" and match and "/api/" in path:
            _require(user, admin=False)
            project = state.projects.get(match.group(1).upper())
            if project is None:
                raise error(
                    404,
                    f"Project {match.group(1)} does not exist.",
                    "com.atlassian.bitbucket.project.NoSuchProjectException",
                )
            return project.json(emu.primary_url)
        if "/mirroring/" in path:
            _require(user)
            return self._mirroring(method, path, query)
        raise error(404, f"No route for {method} {path}")

    def _mirroring(self, method: str, path: str, query: dict) -> Any:
        state, stats = self.state, self.emu.stats
        if method == "GET" and re.fullmatch(rf"{API}/requests", path):
            with state.lock:
                values = [
                    dict(r)
                    for r in sorted(state.requests.values(), key=lambda r: r["id"])
                    if "state" not in query or r["state"] == query["state"]
                ]
            return page(values, query)
        match = re.fullmatch(rf"{API}/requests/(\d+)(/accept|/reject)?", path)
        if match:
            request_id, action = int(match.group(1)), match.group(2)
            missing = error(
                409,
                f"The mirroring request {request_id} could not be found or is not pending",
                "com.atlassian.bitbucket.mirroring.upstream.NoSuchMirroringRequestException",
            )
            if method == "GET" and not action:
                if request_id not in state.requests:
                    raise missing
                return dict(state.requests[request_id])
            if method == "POST" and action == "/accept":
                server = state.accept(request_id)
                if server is None:
                    raise missing
                stats.add("POST", "/rest/mirroring/latest/requests/{id}/accept")
                return dict(server)
            if method == "POST" and action == "/reject":
                with state.lock:
                    request = state.requests.get(request_id)
                    if request is None or request["state"] != "PENDING":
                        raise missing
                    request["state"] = "REJECTED"
                return {
                    "id": request["mirrorId"],
                    "name": request["mirrorName"],
                    "baseUrl": request["mirrorBaseUrl"],
                    "enabled": False,
                    "mirrorType": request["mirrorType"],
                    "productVersion": request["productVersion"],
                }
            if method == "DELETE" and not action:
                if state.requests.pop(request_id, None) is None:
                    raise missing
                return Reply(204)
        if method == "GET" and re.fullmatch(rf"{API}/mirrorServers", path):
            with state.lock:
                values = [dict(s) for s in state.mirror_servers.values()]
            return page(values, query)
        match = re.fullmatch(rf"{API}/mirrorServers/([^/]+)", path)
        if match:
            mirror_id = match.group(1)
            if method == "GET":
                if mirror_id not in state.mirror_servers:
                    raise error(404, f"Mirror server {mirror_id} does not exist")
                return dict(state.mirror_servers[mirror_id])
            if method == "DELETE":
                if not state.remove_mirror_server(mirror_id):
                    raise error(404, f"Mirror server {mirror_id} does not exist")
                stats.add("DELETE", "/rest/mirroring/latest/mirrorServers/{id}")
                return Reply(204)
        raise error(404, f"No route for {method} {path}")


class MirrorRoutes:
    """A mirror's own REST API ("Mirroring (Mirror)"); it authenticates users against the primary.
    `node`: the address of the node that answers (a farm's nodes may run different versions)."""

    def __init__(self, emu: Emulator, mirror: Mirror, node: Optional[str] = None) -> None:
        self.emu, self.mirror, self.state, self.node = emu, mirror, emu.state, node

    def handle(self, method: str, path: str, query: dict, body: Any, user) -> Any:
        mirror, state = self.mirror, self.state
        if path == "/status":
            return {"state": "RUNNING"}
        if method == "GET" and re.fullmatch(rf"{API}/application-properties", path):
            version = next((n.version for n in mirror.farm_nodes if n.address == self.node), None) or state.version
            return {
                "version": version,
                "buildNumber": version.replace(".", "") + "000",
                "buildDate": "1719900000000",
                "displayName": "Bitbucket",
            }
        if method == "GET" and re.fullmatch(rf"{API}/admin/license", path):
            # A mirror says who it is as any Bitbucket instance does: its Server ID, which its
            # mirroring request carries as mirrorId (the vendor's document; UNCONFIRMED for mirrors).
            _require(user, status_if_not_admin=401)
            if not mirror.reports_server_id:
                raise error(404, "No license has been installed")
            return {"serverId": mirror.mirror_id, "status": {"serverId": mirror.mirror_id, "currentNumberOfUsers": 0}}
        if method == "GET" and re.fullmatch(rf"{API}/upstreamServer", path):
            if mirror.upstream_state == "INITIALIZING":
                raise error(404, "No upstream server has been registered")
            return {"id": "upstream-1", "baseUrl": self.emu.primary_url, "state": mirror.upstream_state}
        if not re.match(rf"{API}/(syncSettings|progress|farmNodes|zdu)", path):
            raise error(404, f"No route for {method} {path}")
        _require(user, status_if_not_admin=401)
        if mirror.upstream_state != "INSTALLED":
            raise error(
                404,
                "The upstream server could not be found",
                "com.atlassian.bitbucket.mirroring.mirror.NoSuchUpstreamServerException",
            )
        if method == "GET" and re.fullmatch(rf"{API}/progress", path):
            return state.progress(mirror)
        if method == "GET" and re.fullmatch(rf"{API}/farmNodes", path):
            with state.lock:
                now = state.clock()
                return [n.json() for n in mirror.farm_nodes if n.listed(now)]
        match = re.fullmatch(rf"{API}/zdu/(start|end)", path)
        if method == "POST" and match:
            with state.lock:
                versions = mirror.versions()
                if match.group(1) == "end" and len(versions) > 1:
                    # The vendor's RollingUpgradeService refuses to leave upgrade mode while versions differ
                    # (the OpenAPI document lists no status for it: modelled as 409 Conflict).
                    raise error(
                        409,
                        f"Cannot end the rolling upgrade: the farm runs {', '.join(sorted(versions))}",
                        "com.atlassian.bitbucket.zdu.MixedVersionsException",
                    )
                mirror.upgrade_mode = match.group(1) == "start"
                self.emu.stats.add("POST", f"/rest/mirroring/latest/zdu/{match.group(1)}")
                return {"rollingUpgradeEnabled": mirror.upgrade_mode, "version": min(versions, key=_version_key)}
        if re.fullmatch(rf"{API}/syncSettings", path):
            if method == "PUT":
                self._set_mode(body.get("mode") if isinstance(body, dict) else None)
                self._set_projects([int(i) for i in body.get("projectIds", [])], replace=True)
            return self._settings()
        if re.fullmatch(rf"{API}/syncSettings/mode", path):
            if method == "PUT":
                self._set_mode(body)
                self.emu.stats.add("PUT", "/rest/mirroring/latest/syncSettings/mode")
            return mirror.mode
        if re.fullmatch(rf"{API}/syncSettings/projects", path):
            if method == "POST":
                if not isinstance(body, list) or not all(isinstance(i, str) and i.isdigit() for i in body):
                    raise error(400, "Expected a JSON array of project ids")
                self._set_projects([int(i) for i in body], replace=False)
                self.emu.stats.add("POST", "/rest/mirroring/latest/syncSettings/projects")
            return sorted(str(i) for i in mirror.project_ids)
        match = re.fullmatch(rf"{API}/syncSettings/projects/(\d+)", path)
        if match:
            project_id = int(match.group(1))
            if method == "POST":
                self._set_projects([project_id], replace=False)
                return sorted(str(i) for i in mirror.project_ids)
            if method == "DELETE":
                with state.lock:
                    mirror.project_ids.discard(project_id)
                self.emu.stats.add("DELETE", "/rest/mirroring/latest/syncSettings/projects/{id}")
                return Reply(204)
        raise error(404, f"No route for {method} {path}")

    def _settings(self) -> dict:
        return {"mode": self.mirror.mode, "projectIds": sorted(str(i) for i in self.mirror.project_ids)}

    def _set_mode(self, mode: Any) -> None:
        if mode not in ("ALL_PROJECTS", "SELECTED_PROJECTS"):
            raise error(400, f"The provided mode {mode!r} is invalid")
        with self.state.lock:
            if self.mirror.mode == "ALL_PROJECTS" and mode == "SELECTED_PROJECTS":
                # The vendor: mirroring all projects cannot be undone without reinstalling the mirror.
                raise error(400, "A mirror that mirrors all projects cannot go back to selected projects")
            if mode != self.mirror.mode:
                self.mirror.mode = mode
                self.mirror.sync_started = self.state.clock()

    def _set_projects(self, ids: list[int], replace: bool) -> None:
        with self.state.lock:
            unknown = [i for i in ids if i not in self.state.projects_by_id]
            if unknown:
                raise error(404, f"Projects {unknown} could not be found on the upstream")
            before = set(self.mirror.project_ids)
            self.mirror.project_ids = set(ids) if replace else before | set(ids)
            if self.mirror.project_ids - before:
                self.mirror.sync_started = self.state.clock()
