"""The real program (`__main__.py`) run for one deployment of the twin's engine: a fresh event loop and
context, Pulumi's mocks with the engine's own monitor (each registration is a step: engine.py
register), the invokes answered by the twin, the program's warnings collected."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import pickle
import runpy
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop

from twin.mocked_engine import VersionedEngine
from twin.program import CURRENT_CLI, PROGRAM, PROJECT

_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


class ProgramUnderMocks:
    """The real program run once per deployment, its registrations answered by the engine's monitor."""

    def _run_program(self) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            # The SDK wraps this pickler method once more on every provider it serializes and never
            # unwraps it: each program run starts from the original, as a fresh `pulumi up` would.
            pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            # Every registration waits in its own thread for its step, as the engine's answer is awaited.
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=4096))
            # A failed deployment leaves the program's later registrations unanswered; asyncio would say so.
            loop.set_exception_handler(lambda _loop, _context: None)
            logger = logging.getLogger(f"twin-program-{id(self)}")
            logger.propagate = False
            logger.addHandler(_Collect(self.warnings))
            monitor = _Monitor(self)
            try:
                pulumi.runtime.set_mocks(
                    _Invokes(self.engine.invokes),
                    project=PROJECT,
                    stack="twin",
                    preview=self.preview,
                    monitor=monitor,
                    logger=logger,
                )
                pulumi.runtime.settings.SETTINGS.engine = VersionedEngine(logger, CURRENT_CLI)
                pulumi.runtime.set_all_config(self.engine.config, self.engine.secret_keys)
                root = get_root_resource()

                async def main() -> dict[str, Any]:
                    await run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
                    return {
                        k: await pulumi.Output.from_input(v).future(with_unknowns=True) for k, v in root.outputs.items()
                    }  # type: ignore[union-attr]

                return loop.run_until_complete(main())
            finally:
                self.engine.sched.notify()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                asyncio.set_event_loop(None)

        try:
            return contextvars.Context().run(run)
        finally:
            self.engine.sched.notify()


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, deployment: ProgramUnderMocks) -> None:
        super().__init__(_Invokes(deployment.engine.invokes))
        self.deployment = deployment

    @staticmethod
    def make_urn(parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = parent.split("::")[2].split("$").pop() + "$" + type_
        return "urn:pulumi:" + "::".join(["twin", PROJECT, type_, name])

    def RegisterResource(self, request):
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=self.make_urn("", request.type, request.name))
        _ensure_event_loop()
        return self.deployment.register(request)

    def RegisterResourceOutputs(self, request):
        from google.protobuf import empty_pb2

        return empty_pb2.Empty()


class _Invokes(pulumi.runtime.Mocks):
    def __init__(self, call: Callable[[Any], dict]) -> None:
        self._call = call

    def new_resource(self, args):  # never used: the monitor answers registrations
        raise AssertionError("registrations go to the twin's monitor")

    def call(self, args):
        return self._call(args)


class _Collect(logging.Handler):
    def __init__(self, sink: list) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(("", record.getMessage()))
