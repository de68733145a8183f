"""Drive Pulumi's own dynamic-provider host the way the engine does.

`pulumi up` starts the SDK's host (`pulumi-resource-pulumi-python` runs `python -m pulumi.dynamic`
in the project root with the project's virtualenv), reads the gRPC port it prints, calls
`Configure` with every stack config key (namespaced; objects as JSON text; secure keys marked
secret), then Check/Diff/Create/Read/Update/Delete with the resource's properties, among them
`__provider`: the provider object as the SDK pickled it at registration. `pulumi refresh` and
`pulumi destroy` start a fresh host that knows nothing but the state.

`HostProcess` is that host, started as the engine starts it; `Engine` speaks its protocol with the
SDK's own protobuf stubs and the SDK's own property (de)serialisation.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime import proto, rpc
from pulumi.runtime.proto import provider_pb2_grpc

from twin.program import ROOT
from twin.wire import SECRET_KEY, SECRET_SIG

PROJECT = "bitbucket-mirrors"
PROVIDER_KEY = "__provider"


class HostProcess:
    """`python -m pulumi.dynamic` in `cwd` (the project root unless a test says otherwise)."""

    def __init__(self, cwd: Path = ROOT, env: Optional[Mapping[str, str]] = None, args: tuple[str, ...] = ()) -> None:
        """`args`: what the engine passes the plugin (its own address, last), which the shim
        `pulumi-resource-pulumi-python` hands on to `python -m pulumi.dynamic`."""
        environment = {
            k: v for k, v in os.environ.items() if k not in ("BITBUCKET_USERNAME", "BITBUCKET_PASSWORD", "PYTHONPATH")
        }
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", *args],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        port = self.process.stdout.readline().decode().strip()  # type: ignore[union-attr]
        if not port.isdigit():
            self.process.kill()
            raise RuntimeError(
                f"the provider host did not print its port: {port!r} {self.process.stderr.read().decode()}"
            )  # type: ignore[union-attr]
        self.port = int(port)
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self._stderr.append(line.decode(errors="replace"))

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def engine_config(values: Mapping[str, Any], secret_keys: tuple[str, ...] = (PROJECT + ":primaryPassword",)) -> dict:
    """Stack config as the engine hands it to Configure: namespaced keys, objects as JSON text,
    secure keys wrapped in Pulumi's secret signature."""
    args: dict[str, Any] = {}
    for key, value in values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        text = value if isinstance(value, str) else json.dumps(value)
        args[full] = {SECRET_KEY: SECRET_SIG, "value": text} if full in secret_keys else text
    return args


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


def _serialize(values: Mapping[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(values), {}))
    finally:
        loop.close()


def _deserialize(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(message, keep_unknowns=True))


@dataclass
class ResourceState:
    """What the engine keeps in state for one dynamic resource."""

    urn: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)


class Engine:
    """One engine session against one host process."""

    def __init__(self, host: HostProcess) -> None:
        self.host = host
        self.channel = grpc.insecure_channel(f"127.0.0.1:{host.port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def configure(self, args: Mapping[str, Any]) -> proto.ConfigureResponse:
        variables = {k: (v["value"] if isinstance(v, dict) else v) for k, v in args.items()}
        return self.stub.Configure(
            proto.ConfigureRequest(variables=variables, args=_struct(args), acceptSecrets=True, acceptResources=True)
        )

    def check(self, urn: str, news: Mapping[str, Any], olds: Mapping[str, Any] = {}) -> tuple[dict, list]:
        response = self.stub.Check(proto.CheckRequest(urn=urn, olds=_serialize(olds), news=_serialize(news)))
        return _deserialize(response.inputs), [(f.property, f.reason) for f in response.failures]

    def diff(self, state: ResourceState, news: Mapping[str, Any]) -> proto.DiffResponse:
        return self.stub.Diff(
            proto.DiffRequest(
                id=state.id,
                urn=state.urn,
                olds=_serialize(state.outputs),
                news=_serialize(news),
                old_inputs=_serialize(state.inputs),
            )
        )

    def create(self, urn: str, inputs: Mapping[str, Any], timeout: float = 120) -> ResourceState:
        response = self.stub.Create(proto.CreateRequest(urn=urn, properties=_serialize(inputs)), timeout=timeout)
        return ResourceState(urn, response.id, dict(inputs), _deserialize(response.properties))

    def read(self, state: ResourceState) -> Optional[ResourceState]:
        response = self.stub.Read(
            proto.ReadRequest(
                id=state.id, urn=state.urn, properties=_serialize(state.outputs), inputs=_serialize(state.inputs)
            )
        )
        if not response.id:
            return None
        return ResourceState(state.urn, response.id, state.inputs, _deserialize(response.properties))

    def update(self, state: ResourceState, news: Mapping[str, Any], timeout: float = 120) -> ResourceState:
        response = self.stub.Update(
            proto.UpdateRequest(
                id=state.id,
                urn=state.urn,
                olds=_serialize(state.outputs),
                news=_serialize(news),
                old_inputs=_serialize(state.inputs),
            ),
            timeout=timeout,
        )
        return ResourceState(state.urn, state.id, dict(news), _deserialize(response.properties))

    def delete(self, state: ResourceState) -> None:
        self.stub.Delete(
            proto.DeleteRequest(
                id=state.id, urn=state.urn, properties=_serialize(state.outputs), old_inputs=_serialize(state.inputs)
            )
        )
