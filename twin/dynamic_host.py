"""The SDK's own dynamic-provider host, run in this process: the twin calls its servicer as the
engine calls it over gRPC (Configure, Check, Diff, Create, Update, Delete, Read), so providers are
unpickled, configured and answered by the SDK's code, not by a copy of it.

`pulumi/dynamic/__main__.py` starts its server when imported; its module body minus that last
`main()` call is what is loaded here. A fresh host per `pulumi up` (as the engine starts one per
deployment): the SDK caches configured providers per process.
"""

from __future__ import annotations

import ast
import contextvars
import importlib.util
import json
from types import ModuleType
from typing import Any, Mapping

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime import proto

from twin.wire import SECRET_KEY, SECRET_SIG


class HostCallFailed(Exception):
    pass


class _Context:
    """What the servicer's methods need of a gRPC context: abort raises the provider's error."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise HostCallFailed(_last_line(details))

    def set_code(self, code) -> None:
        pass

    def set_details(self, details) -> None:
        pass


def _last_line(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1] if lines else trace


def _load_host_module() -> ModuleType:
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin
    source = open(spec.origin).read()
    tree = ast.parse(source)
    last = tree.body[-1]
    assert (
        isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and getattr(last.value.func, "id", "") == "main"
    ), "the SDK's dynamic host module no longer ends with main(): the twin must learn its new shape"
    tree.body = tree.body[:-1]
    module = ModuleType("pulumi_dynamic_host_in_twin")
    module.__file__ = spec.origin
    exec(compile(tree, spec.origin, "exec"), module.__dict__)
    return module


class DynamicHost:
    def __init__(self, stack_config: Mapping[str, Any], secret_keys: tuple[str, ...]) -> None:
        self.module = _load_host_module()  # a fresh module: a fresh provider cache
        self.servicer = self.module.DynamicResourceProviderServicer()
        args = struct_pb2.Struct()
        values = {}
        for key, value in stack_config.items():
            text = value if isinstance(value, str) else json.dumps(value)
            values[key] = {SECRET_KEY: SECRET_SIG, "value": text} if key in secret_keys else text
        args.update(values)
        self._call(
            "Configure",
            proto.ConfigureRequest(variables={k: v for k, v in stack_config.items()}, args=args, acceptSecrets=True),
        )

    def _call(self, method: str, request: Any) -> Any:
        # Each call in a context of its own: the host's get_provider configures the SDK's settings.
        return contextvars.Context().run(getattr(self.servicer, method), request, _Context())

    def check(self, urn: str, olds: struct_pb2.Struct, news: struct_pb2.Struct) -> proto.CheckResponse:
        return self._call("Check", proto.CheckRequest(urn=urn, olds=olds, news=news))

    def diff(
        self, urn: str, id_: str, olds: struct_pb2.Struct, news: struct_pb2.Struct, old_inputs: struct_pb2.Struct
    ) -> proto.DiffResponse:
        return self._call("Diff", proto.DiffRequest(id=id_, urn=urn, olds=olds, news=news, old_inputs=old_inputs))

    def create(self, urn: str, inputs: struct_pb2.Struct) -> proto.CreateResponse:
        return self._call("Create", proto.CreateRequest(urn=urn, properties=inputs))

    def update(
        self, urn: str, id_: str, olds: struct_pb2.Struct, news: struct_pb2.Struct, old_inputs: struct_pb2.Struct
    ) -> proto.UpdateResponse:
        return self._call("Update", proto.UpdateRequest(id=id_, urn=urn, olds=olds, news=news, old_inputs=old_inputs))

    def delete(self, urn: str, id_: str, outputs: struct_pb2.Struct, old_inputs: struct_pb2.Struct) -> None:
        self._call("Delete", proto.DeleteRequest(id=id_, urn=urn, properties=outputs, old_inputs=old_inputs))

    def read(self, urn: str, id_: str, outputs: struct_pb2.Struct, inputs: struct_pb2.Struct) -> proto.ReadResponse:
        return self._call("Read", proto.ReadRequest(id=id_, urn=urn, properties=outputs, inputs=inputs))
