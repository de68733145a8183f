"""A hostile Bitbucket: an HTTPS server on 127.0.0.1 that answers wrongly on purpose, as a test
scripts it (pages that never end, Retry-After: 3600, redirects to http://, null where an object
belongs, 500 forever, no answer at all), and passes every request it does not script on to a real
emulator, so one wrong answer can sit among right ones.

TLS as the emulator does it (twin/emulator/server.py): a throwaway trustme CA and a certificate
for 127.0.0.1; `ca_pem` is what a provider's ca_bundle must trust (concatenate the emulator's when
both answer). `tls=False` serves plain HTTP: the place a redirect must never lead to.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

import requests
import trustme

NOTHING = object()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: Any


@dataclass
class Answer:
    """What to answer: a status, a JSON body (NOTHING: no body), or raw bytes; after `hang_s`
    seconds of silence (a server that accepts and never answers); `drop`: close without a word."""

    status: int = 200
    body: Any = NOTHING
    raw: Optional[bytes] = None
    headers: dict = field(default_factory=dict)
    hang_s: float = 0.0
    drop: bool = False


def answer(body: Any = NOTHING, status: int = 200, **headers: str) -> Answer:
    return Answer(status, body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def raw(data: bytes, status: int = 200, content_type: str = "application/json") -> Answer:
    return Answer(status, raw=data, headers={"Content-Type": content_type})


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status, headers={"Location": location})


def hang(seconds: float) -> Answer:
    return Answer(hang_s=seconds)


# A script: the answer to a request, or None to pass it on to the upstream emulator.
Script = Callable[[Seen], Optional[Answer]]


class Hostile:
    def __init__(
        self, script: Script, upstream: Optional[str] = None, upstream_ca: Optional[str] = None, tls: bool = True
    ) -> None:
        self.script, self.upstream, self.upstream_ca, self.tls = script, upstream, upstream_ca, tls
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._server: Optional[ThreadingHTTPServer] = None
        self.url = ""

    @property
    def ca_pem(self) -> str:
        return self._ca.cert_pem.bytes().decode()

    def requests_to(self, path: str, method: Optional[str] = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path and method in (None, s.method)]

    def __enter__(self) -> "Hostile":
        hostile = self

        class Handler(_Handler):
            owner = hostile

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="hostile"
        ).start()
        self._server = server
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- serving ------------------------------------------------------------------------------
    def _respond(self, seen: Seen) -> Answer:
        with self._lock:
            self.seen.append(seen)
        scripted = self.script(seen)
        if scripted is not None:
            return scripted
        if self.upstream is None:
            return answer({"errors": [{"message": f"nothing scripted for {seen.method} {seen.path}"}]}, 404)
        relayed = requests.request(
            seen.method,
            self.upstream + seen.path,
            params=seen.query,
            json=None if seen.body is NOTHING else seen.body,
            headers={k: v for k, v in seen.headers.items() if k.lower() == "authorization"},
            verify=self.upstream_ca,
            timeout=30,
            allow_redirects=False,
        )
        out = Answer(relayed.status_code, raw=relayed.content)
        if relayed.headers.get("Content-Type"):
            out.headers["Content-Type"] = relayed.headers["Content-Type"]
        return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Hostile

    def log_message(self, *args) -> None:
        pass

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        try:
            body = json.loads(data) if data else NOTHING
        except ValueError:
            body = data
        seen = Seen(
            self.command,
            parts.path,
            {k: v[-1] for k, v in parse_qs(parts.query).items()},
            dict(self.headers.items()),
            body,
        )
        reply = self.owner._respond(seen)
        if reply.hang_s:
            time.sleep(reply.hang_s)
        if reply.drop or reply.hang_s:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = (
            reply.raw if reply.raw is not None else (b"" if reply.body is NOTHING else json.dumps(reply.body).encode())
        )
        self.send_response(reply.status)
        headers = dict(reply.headers)
        if payload and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json;charset=UTF-8"
        headers["Content-Length"] = str(len(payload))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch
