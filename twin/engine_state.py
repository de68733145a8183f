"""What the twin's engine keeps and hands back: a resource as the stack's state keeps it, a step, a
planned registration (the preview's plan for the up), an up's result; and the conversions between
the wire's structs and plain values (a provider that declined secrets sees every value in the clear)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from twin.wire import SECRET_KEY, SECRET_SIG

from . import rules
from .dynamic_host import HostCallFailed
from .node import CommandFailed
from .world import WorldError

DYNAMIC = "pulumi-python:dynamic/"
FAILURES = (HostCallFailed, CommandFailed, WorldError, KeyError, ValueError, RuntimeError)


@dataclass
class Resource:
    """One resource as the stack's state keeps it."""

    urn: str
    type: str
    name: str
    id: str
    inputs: dict
    outputs: dict
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    delete_before_replace: bool = False
    inputs_struct: Optional[struct_pb2.Struct] = None  # dynamic: the checked inputs the host saw
    outputs_struct: Optional[struct_pb2.Struct] = None


@dataclass
class Step:
    """One step of a deployment, as the report shows it: its resource, operation, modelled start and end."""

    urn: str
    name: str
    type: str
    operation: str
    start: float
    end: float = 0.0
    error: Optional[str] = None
    detail: list[str] = field(default_factory=list)

    def json(self, origin: float = 0.0) -> dict:
        """Start and end in modelled seconds from `origin` (the deployment's start)."""
        return {
            "resource": f"{self.type.split(':')[-1]} {self.name}",
            "operation": self.operation,
            "start": round(self.start - origin, 1),
            "end": round(self.end - origin, 1),
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Planned:
    """A registration the preview saw: what it depends on (the up's clock waits for those steps)."""

    urn: str
    type: str
    custom: bool
    dependencies: set[str]
    operation: str = "same"


@dataclass
class UpResult:
    """What one preview or up did: its steps, its error, its modelled span, warnings, plan and outputs."""

    steps: list[Step]
    error: Optional[str]
    start: float
    end: float
    warnings: list[tuple[str, str]]  # (urn, message) the engine was told, program or providers
    plan: dict[str, Planned]
    outputs: dict[str, Any] = field(default_factory=dict)
    killed: bool = False

    @property
    def changes(self) -> int:
        return sum(1 for s in self.steps if s.operation != "same")


class StepFailed(Exception):
    """A step that did not complete: the deployment stops (steps under way finish, no deletes)."""


def reveal(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """What the engine sends a provider that declined secrets: every value in the clear."""

    def unwrap(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get(SECRET_KEY) == SECRET_SIG:
                return unwrap(value.get("value"))
            return {k: unwrap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unwrap(v) for v in value]
        return value

    out = struct_pb2.Struct()
    out.update(unwrap(json_format.MessageToDict(struct)))
    return out


def plain(struct: Optional[struct_pb2.Struct]) -> dict:
    if struct is None:
        return {}
    _ensure_event_loop()
    return dict(rpc.deserialize_properties(reveal(struct), keep_unknowns=True))


def to_struct(values: dict) -> struct_pb2.Struct:
    _ensure_event_loop()
    return _sync_await(rpc.serialize_properties(values, {}))


def with_unknown(struct: struct_pb2.Struct, keys: set[str]) -> struct_pb2.Struct:
    values = json_format.MessageToDict(struct)
    for key in keys:
        values[key] = rules.UNKNOWN
    out = struct_pb2.Struct()
    out.update(values)
    return out
