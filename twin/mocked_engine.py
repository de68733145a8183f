"""The engine's side of a program run under the mocks: the CLI version it answers
RequirePulumiVersion with, the secrets it makes of `additionalSecretOutputs`, and the monitors that
record every registration (in full, or only counted)."""

from __future__ import annotations

import logging
from typing import Any, Optional

import grpc
import pulumi
from google.protobuf import json_format, struct_pb2
from packaging.version import Version
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import engine_pb2

from .mocks import ProgramMocks
from .recorded import RecordedResource
from .wire import SECRET_KEY, SECRET_SIG, revealed


class _EngineRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def satisfies(version: str, version_range: str) -> bool:
    """Whether `version` is in a space-separated AND of comparisons (the subset of the engine's
    blang/semver ranges this program uses: >=, >, <=, <, =)."""
    current = Version(version)
    for clause in version_range.split():
        op = next(o for o in (">=", "<=", ">", "<", "=", "") if clause.startswith(o))
        bound = Version(clause[len(op) :])
        ok = {
            ">=": current >= bound,
            "<=": current <= bound,
            ">": current > bound,
            "<": current < bound,
            "=": current == bound,
            "": current == bound,
        }[op]
        if not ok:
            return False
    return True


class VersionedEngine(pulumi_mocks.MockEngine):
    """The engine's answer to RequirePulumiVersion: CLIs from before the RPC do not implement it;
    newer ones refuse a range they are not in with this message (pulumi/pulumi
    `plugin.ValidatePulumiVersionRange`)."""

    def __init__(self, logger: logging.Logger, cli_version: Optional[str]) -> None:
        super().__init__(logger)
        self.cli_version = cli_version

    def RequirePulumiVersion(self, request):
        if self.cli_version is None:
            raise _EngineRpcError(grpc.StatusCode.UNIMPLEMENTED, "unknown method RequirePulumiVersion")
        version_range = request.pulumi_version_range
        if not satisfies(self.cli_version, version_range):
            raise _EngineRpcError(
                grpc.StatusCode.UNKNOWN,
                f'Pulumi CLI version {self.cli_version} does not satisfy the version range "{version_range}"',
            )
        return engine_pb2.RequirePulumiVersionResponse()


def mark_secret_outputs(request, response) -> None:
    """What the engine does with a registration's `additionalSecretOutputs`, and the SDK's mocks do
    not: those outputs come back to the program as secrets (so everything computed from them is one,
    as it is in a real `pulumi up`). Generated SDKs list there every output their schema marks secret:
    a random password's `result`, a private key's PEM, an SSM parameter's `value`."""
    names = list(getattr(request, "additionalSecretOutputs", ()) or ())
    fields = response.object.fields
    for name in names:
        if name not in fields:
            continue
        value = fields[name]
        if (
            value.HasField("struct_value")
            and value.struct_value.fields.get(SECRET_KEY, struct_pb2.Value()).string_value == SECRET_SIG
        ):
            continue
        wrapped = struct_pb2.Struct()
        wrapped.fields[SECRET_KEY].string_value = SECRET_SIG
        wrapped.fields["value"].CopyFrom(value)
        fields[name].struct_value.CopyFrom(wrapped)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps the raw wire form of every registration: parent, dependencies, secrets still wrapped."""

    def __init__(self, mocks: ProgramMocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}  # urn -> registered outputs (wire form)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        mark_secret_outputs(request, response)
        wire = json_format.MessageToDict(request.object)
        record = RecordedResource(
            typ=request.type,
            name=request.name,
            urn=response.urn,
            id=response.id,
            # What the provider receives, in the clear; `wire_inputs` keeps the secrets wrapped.
            inputs=revealed(pulumi.runtime.rpc.deserialize_properties(request.object)),
            wire_inputs=wire,
            parent=request.parent,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            custom=bool(request.custom),
            outputs=dict(self.resources[response.urn].state) if response.urn in self.resources else {},
            options={
                "deleteBeforeReplace": request.deleteBeforeReplace,
                "additionalSecretOutputs": list(request.additionalSecretOutputs),
                "replaceOnChanges": list(request.replaceOnChanges),
                "ignoreChanges": list(request.ignoreChanges),
                "protect": request.protect if request.HasField("protect") else None,
                "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else None,
            },
        )
        self.records.append(record)
        return response

    def RegisterResourceOutputs(self, request):
        self.component_outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


class CountingMonitor(pulumi_mocks.MockMonitor):
    """Only counts registrations (benchmarks time the program, not the recorder)."""

    def __init__(self, mocks: ProgramMocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            mark_secret_outputs(request, response)
            self.records.append(
                RecordedResource(
                    request.type,
                    request.name,
                    response.urn,
                    response.id,
                    {},
                    {},
                    request.parent,
                    [],
                    {},
                    bool(request.custom),
                )
            )
        return response
