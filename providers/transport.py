"""The sockets under BitbucketClient, bounded by the call's deadline as a whole.

urllib3's timeouts are per step: a connect timeout per address tried, a read timeout per socket
read. A server that trickles one byte a second never trips a read timeout, and a name lookup runs
outside both. So every call of the client is a `Watch`:

- the name lookup and the connect run in a helper thread, given up when what is left of the
  deadline has passed (the thread ends with the resolver's own timeout; nothing waits for it). It
  calls urllib3's create_connection, so whatever stands in for it (the twin's DNS) still does;
- a timer shuts every connection the call uses down when the deadline comes, whatever it is doing
  (the TLS handshake, the headers, the body): its blocked read returns at once. The connection is
  shut down through a duplicate of its socket that the connection owns, so the timer never touches
  a descriptor that another thread may have reused;
- the body is read as it arrives and the call checks, chunk by chunk, that the timer has not fired.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from typing import Any, Optional

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ResponseError,
)
from urllib3.util import Retry, Timeout, connection

from . import clock

_watch: contextvars.ContextVar[Optional["Watch"]] = contextvars.ContextVar("transport_watch", default=None)
# The deadline of the call in progress on this thread (urllib3's Retry and Timeout objects are
# copied per attempt, so they read it from here rather than holding it).
call_deadline: contextvars.ContextVar[Optional[clock.Deadline]] = contextvars.ContextVar("call_deadline", default=None)
# A server asking to be retried after an hour is not waited for an hour.
MAX_RETRY_AFTER_S = 60.0
# The smallest timeout an attempt gets: urllib3 refuses 0, and a last attempt this short fails fast.
MIN_ATTEMPT_S = 0.05


class DeadlineRetry(Retry):
    """urllib3's Retry, bounded by the call's deadline: waits are capped (Retry-After at
    MAX_RETRY_AFTER_S) and go through providers.clock; a retry whose wait would outlast the
    deadline is not made. A Retry-After that is not a number or a date counts as absent."""

    def _wait(self, response: Any = None) -> float:
        wait = self.get_backoff_time()
        if self.respect_retry_after_header and response is not None:
            try:
                after = self.get_retry_after(response)
            except InvalidHeader:
                after = None
            if after is not None:
                wait = min(after, MAX_RETRY_AFTER_S)
        return wait

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = call_deadline.get()
        if deadline is not None and retry._wait(response) + MIN_ATTEMPT_S >= deadline.remaining:
            # As urllib3 gives up when retries run out: an answer is returned (raise_on_status is
            # off), an error raised.
            reason = error or ResponseError(
                ResponseError.SPECIFIC_ERROR.format(status_code=response.status if response is not None else "?")
            )
            raise MaxRetryError(_pool, url, reason) from reason
        return retry

    def sleep(self, response: Any = None) -> None:
        deadline = call_deadline.get()
        wait = self._wait(response)
        clock.sleep(min(wait, deadline.remaining) if deadline is not None else wait)


class DeadlineTimeout(Timeout):
    """Each attempt's connect and read timeouts, cut to what is left of the call's deadline
    (urllib3 clones the timeout for every attempt, retries included)."""

    def clone(self) -> Timeout:
        deadline = call_deadline.get()
        connect, read = self._connect, self._read
        if deadline is not None:
            left = max(deadline.remaining, MIN_ATTEMPT_S)
            connect = min(connect, left) if isinstance(connect, (int, float)) else left
            read = min(read, left) if isinstance(read, (int, float)) else left
        return DeadlineTimeout(connect=connect, read=read, total=self.total)


class Watch:
    """One call's bound: `fired` once its deadline came, after which its connections are shut."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._connections: list[BoundedHTTPSConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._token: Optional[contextvars.Token] = None

    def __enter__(self) -> "Watch":
        self._token = _watch.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        if self._token is not None:
            _watch.reset(self._token)

    def add(self, conn: "BoundedHTTPSConnection") -> None:
        with self._lock:
            if self.fired:
                conn.shut()
            else:
                self._connections.append(conn)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            connections = list(self._connections)
        for conn in connections:
            conn.shut()


def current() -> Optional[Watch]:
    return _watch.get()


def _connect_within(address: tuple[str, int], timeout: Optional[float], **options: Any) -> socket.socket:
    """urllib3's create_connection (name lookup, then each address in turn), given up after
    `timeout` seconds in all: the lookup cannot be interrupted, so it runs in a helper thread that
    closes the socket it may still get after it was given up."""
    done = threading.Event()
    found: dict[str, Any] = {}

    def attempt() -> None:
        try:
            sock = connection.create_connection(address, timeout, **options)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            found["error"] = exc
        else:
            found["sock"] = sock
            if found.get("abandoned"):
                sock.close()
        done.set()

    threading.Thread(target=attempt, daemon=True, name=f"connect-{address[0]}").start()
    if not done.wait(timeout):
        found["abandoned"] = True
        if "sock" in found:  # it came just now
            found["sock"].close()
        raise TimeoutError(
            f"the name lookup of {address[0]} and the connect to it did not finish within {timeout:.1f}s"
        )
    if "error" in found:
        raise found["error"]
    return found["sock"]


class BoundedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection whose name lookup and connect end by the call's deadline, and which the
    call's watch can shut down from another thread."""

    _shadow: Optional[socket.socket] = None

    def _new_conn(self) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:
            sock = _connect_within(
                (self._dns_host, self.port),
                timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out ({exc})") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        self._shadow = sock.dup()
        watch = current()
        if watch is not None:
            watch.add(self)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # A connection kept alive from an earlier call joins this call's watch.
        watch = current()
        if watch is not None and self._shadow is not None:
            watch.add(self)
        super().request(*args, **kwargs)

    def shut(self) -> None:
        shadow = self._shadow
        if shadow is not None:
            try:
                shadow.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def close(self) -> None:
        shadow, self._shadow = self._shadow, None
        if shadow is not None:
            shadow.close()
        super().close()


class BoundedHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool, making BoundedHTTPSConnections."""

    ConnectionCls = BoundedHTTPSConnection


class BoundedAdapter(HTTPAdapter):
    """requests' adapter with the bounded connections, directly or through a proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": BoundedHTTPSConnectionPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"https": BoundedHTTPSConnectionPool}
        return manager


# What read_body found besides a whole body.
TOO_LARGE, TOO_SLOW = "too large", "too slow"


def read_body(response: Any, watch: Watch, cap: int, chunk: int = 64 * 1024) -> tuple[bytes, str]:
    """The decompressed body of a streamed requests Response, read as it arrives, and "" or why it
    is not the whole body: TOO_LARGE past `cap` bytes (urllib3 inflates at most `chunk` bytes a
    step, so a compressed bomb is never inflated past the cap), TOO_SLOW once the watch fired."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        return b"", TOO_LARGE
    parts: list[bytes] = []
    size = 0
    while True:
        # read1: one read of the socket a step (read() would wait for a whole chunk), so the check
        # below comes as each piece arrives, and a read the watch woke returns at once.
        part = response.raw.read1(chunk, decode_content=True)
        if watch.fired:
            return b"", TOO_SLOW
        if not part:
            break
        size += len(part)
        if size > cap:
            return b"", TOO_LARGE
        parts.append(part)
    if watch.fired:
        # A body without a length ends where the shut connection ended it: not the whole answer.
        return b"", TOO_SLOW
    return b"".join(parts), ""
