"""What the providers tell the person running `pulumi up` or `pulumi preview`.

- `say`: progress (waiting for a request, a node draining). The provider host's output, which the
  CLI shows unattributed (pulumi/pulumi#18253, CLI 3.146.0 and newer; 3.144-3.145 showed it only
  with --debug, #17943).
- `warn`: what a change will cost clients. A warning through the engine's own Log service,
  attributed to a resource, so `pulumi preview` lists it under that resource with the engine's
  other diagnostics, `--diff` or not. The engine starts every resource plugin with its address as
  the last argument (pulumi/pulumi sdk/go/common/resource/plugin/provider_plugin.go, NewProvider;
  the Python shim `pulumi-resource-pulumi-python` passes it on to `python -m pulumi.dynamic`),
  whose host does not use it: the providers do. Where there is no engine (tests, a host started
  without one) a warning goes out as a `warning:` line like the progress.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Callable, Optional

PREFIX = "bitbucket-mirrors: "
_ADDRESS = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")

_lock = threading.Lock()
_channel = None


def shown(value: Optional[str], limit: int = 100) -> str:
    """A value a server or a request wrote, as a message may echo it: quoted (no control character
    reaches the terminal) and cut to `limit` characters (an answer may be megabytes)."""
    if value is None:
        return "none given"
    text = str(value)
    return repr(text[:limit]) + (f" (cut from {len(text)} characters)" if len(text) > limit else "")


def say(message: str) -> None:
    print(f"{PREFIX}{message}", file=sys.stderr, flush=True)


def engine_address() -> Optional[str]:
    """The engine's gRPC address when this process is the provider host the engine started."""
    from .host_pool import in_provider_host

    if not in_provider_host() or len(sys.argv) < 2 or not _ADDRESS.match(sys.argv[-1]):
        return None
    return sys.argv[-1]


def _engine_log(urn: str, message: str) -> bool:
    global _channel
    address = engine_address()
    if address is None:
        return False
    import grpc
    from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

    with _lock:
        if _channel is None:
            _channel = grpc.insecure_channel(address)
    try:
        engine_pb2_grpc.EngineStub(_channel).Log(
            engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message, urn=urn or ""), timeout=10
        )
        return True
    except grpc.RpcError:
        return False


# Where warnings go: the engine's Log service when there is one (the tests' twin of `pulumi up`
# replaces this with its own engine).
sink: Callable[[str, str], bool] = _engine_log


def warn(message: str, urn: Optional[str] = None) -> None:
    """A warning attributed to `urn` (a site's component URN), or a console line without an engine."""
    if not sink(urn or "", f"{PREFIX}{message}"):
        say(f"warning: {message}")
