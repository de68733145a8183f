"""HTTPS servers that answer like a Bitbucket Data Center primary and its mirrors (paths, JSON
shapes, paging and status codes per the vendor's OpenAPI document and docs/bitbucket-facts.md), with a
request log, fixed latency and fault injection. The routes themselves: primary_routes.py and
mirror_routes.py, answering with replies.py."""

from __future__ import annotations

import base64
import json
import random
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

from .mirror_routes import MirrorRoutes
from .primary_routes import PrimaryRoutes
from .replies import NoAnswer, Reply
from .state import FarmNode, Mirror, State, User


@dataclass(frozen=True)
class Faults:
    """Injected failures: a `rate` share of requests gets one of `kinds`: an HTTP status (429 with
    Retry-After), `drop` (closed unanswered) or `drop_after` (closed after the request took effect);
    seeded, so that a run repeats."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("503", "429", "drop")
    retry_after_s: int = 1
    seed: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator's log keeps it: which server, method, path, query, headers, status."""

    server: str
    method: str
    path: str
    query: dict
    headers: dict
    status: int
    ts: float


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
    """A primary and its mirrors on 127.0.0.1 over HTTPS (a throwaway CA), scripted by tests and the twin:
    users, projects, mirrors, front doors, faults; its request log and side-effect counts."""

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
            """A handler bound to one server: its name in the log and its routes."""

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
