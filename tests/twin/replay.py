"""One dynamic resource through the twin's engine decisions and the SDK's host code, `up` after `up`:
each registration is decided (Check with olds, Diff, and on a replacement Check again with no olds)
by the twin's engine's own `_decide` (twin/engine_steps.py), then created or updated by the provider
through the host, as a preview and an `up` would. For the engine-rule and provider replace-protocol tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import resource_pb2

from twin import engine, engine_state
from twin.dynamic_host import DynamicHost

TYPE = "pulumi-python:dynamic/bitbucket:Replayed"


@dataclass
class Played:
    operation: str
    promised: dict  # what a preview hands the program (the engine's inputs for the step)
    recorded: dict  # the outputs the `up` records
    delete_before_replace: bool
    calls: list[str] = field(default_factory=list)


class Replay:
    def __init__(self, provider: Any, name: str = "r") -> None:
        self.provider = serialize_provider(provider)
        self.urn = f"urn:pulumi:twin::bitbucket-mirrors::{TYPE}::{name}"
        self.name = name
        self.old: Optional[engine_state.Resource] = None

    def _deployment(self) -> Any:
        run = object.__new__(engine._Deployment)  # only its deciding part: no scheduler, no program
        run.host = DynamicHost({}, ())
        return run

    def request(self, inputs: dict, dbr: Optional[bool] = None, ignore: tuple[str, ...] = ()) -> Any:
        obj = struct_pb2.Struct()
        obj.update({**inputs, "__provider": self.provider})
        return resource_pb2.RegisterResourceRequest(
            type=TYPE,
            name=self.name,
            custom=True,
            object=obj,
            deleteBeforeReplace=bool(dbr),
            deleteBeforeReplaceDefined=dbr is not None,
            ignoreChanges=list(ignore),
        )

    def up(self, inputs: dict, dbr: Optional[bool] = None, ignore: tuple[str, ...] = ()) -> Played:
        run = self._deployment()
        request = self.request(inputs, dbr, ignore)
        preview_op, preview_inputs, _ = run._decide(self.urn, request, self.old)
        operation, checked, decision = self._deployment()._decide(self.urn, request, self.old)
        assert operation == preview_op
        if operation == "same":
            assert self.old is not None
            return Played("same", engine_state.plain(self.old.outputs_struct), self.old.outputs, False)
        host = run.host
        if operation in ("create", "replace"):
            response = host.create(self.urn, checked)
            id_, outs = response.id, response.properties
        else:
            assert self.old is not None
            id_ = self.old.id
            empty = struct_pb2.Struct()
            outs = host.update(
                self.urn, id_, self.old.outputs_struct or empty, checked, self.old.inputs_struct or empty
            ).properties
        recorded = engine_state.plain(outs)
        self.old = engine_state.Resource(
            self.urn, TYPE, self.name, id_, engine_state.plain(checked), recorded, "", [], {}, False, checked, outs
        )
        return Played(operation, engine_state.plain(preview_inputs), recorded, decision.delete_before_replace)
