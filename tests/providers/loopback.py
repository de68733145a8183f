"""Raw HTTPS servers on 127.0.0.1 that misbehave below HTTP's level, which tests/providers/hostile.py
(a whole answer at once) cannot: a server that trickles its answer a byte at a time, or that sends a
small compressed body that inflates to a huge one. Each connection is handed to `serve(conn)`."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Callable

import trustme


class Loopback:
    def __init__(self, serve: Callable[[ssl.SSLSocket], None]) -> None:
        self.serve = serve
        self.connections = 0
        self._ca = trustme.CA()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open = True
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def ca_pem(self) -> str:
        return self._ca.cert_pem.bytes().decode()

    def __enter__(self) -> "Loopback":
        threading.Thread(target=self._accept, daemon=True, name="loopback").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._open = False
        self._listener.close()

    def _accept(self) -> None:
        while self._open:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            with self._context.wrap_socket(raw, server_side=True) as conn:
                _read_request(conn)
                self.serve(conn)
        except OSError:
            pass  # the client gave up: what these servers are for


def _read_request(conn: ssl.SSLSocket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def trickle(payload: bytes, every_s: float) -> Callable[[ssl.SSLSocket], None]:
    """Send `payload` (a whole HTTP answer, status line included) one byte every `every_s`."""

    def serve(conn: ssl.SSLSocket) -> None:
        for byte in payload:
            conn.sendall(bytes([byte]))
            time.sleep(every_s)

    return serve


def at_once(payload: bytes) -> Callable[[ssl.SSLSocket], None]:
    def serve(conn: ssl.SSLSocket) -> None:
        conn.sendall(payload)
        time.sleep(0.5)  # let the client read before the close

    return serve


def http_answer(body: bytes, **headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
