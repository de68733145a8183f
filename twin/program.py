"""Run the real program (`__main__.py`) under Pulumi's mocks with a real stack file.

`run_program(stack_file)` returns every registered resource with its inputs, its raw wire inputs
(where secrets are still wrapped, so tests can prove key material never travels in the clear),
its parent and its dependencies, plus the resolved stack outputs. Each run gets a fresh event
loop and a fresh context: Pulumi keeps its settings and root stack in ContextVars, and
module-level `set_mocks` breaks on newer Pythons.

The mocks' answers are twin/mocks.py, the engine's side (monitors, CLI version) twin/mocked_engine.py,
what a run records twin/recorded.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import pickle
import runpy
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TypeVar

import pulumi
import yaml
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func, wait_for_rpcs

from .mocked_engine import CountingMonitor, RecordingMonitor, VersionedEngine
from .mocks import ProgramMocks, stand_in_pem
from .mocks import mock_key_pair as mock_key_pair  # native.py takes the mocks' key pairs from here
from .recorded import ProgramRun

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "__main__.py"
EXAMPLE_STACK = ROOT / "Pulumi.example.yaml"
# The larger examples users copy (examples/Pulumi.<name>.yaml), checked like the example, by <name>.
EXAMPLE_FILES = {p.name.split(".")[1]: p for p in sorted((ROOT / "examples").glob("Pulumi.*.yaml"))}
STACKS = ROOT / "twin" / "stacks"  # the stack files the twin rehearses and the suite runs the program on
PROJECT = "bitbucket-mirrors"

# The CLI the mocked engine claims to be (RequirePulumiVersion); a test may pretend an older one.
CURRENT_CLI = "3.207.0"

# Stand-ins for `secure:` values of stack files, which the CLI would decrypt for the program.
TEST_PASSWORD = "pw-Test-9f3b1c"


class _WarningCollector(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def stack_file_config(stack_file: Path, secrets: Optional[dict[str, str]] = None) -> tuple[dict[str, str], list[str]]:
    """The config bag the CLI would hand the program for this stack file.

    `secure:` values become `secrets[key path]` (or a test stand-in); as the CLI does, a top-level
    key holding any secret is marked secret as a whole.
    """
    document = yaml.safe_load(stack_file.read_text()) or {}
    secrets = secrets or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        found: list[bool] = []
        plain = _decrypt(value, key.split(":", 1)[-1], secrets, found)
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        config[full_key] = plain if isinstance(plain, str) else json.dumps(plain)
        if found:
            secret_keys.append(full_key)
    return config, secret_keys


def _decrypt(value: Any, path: str, secrets: dict[str, str], found: list[bool]) -> Any:
    if isinstance(value, dict) and set(value) == {"secure"}:
        found.append(True)
        return secrets.get(path, _stand_in(path))
    if isinstance(value, dict):
        return {k: _decrypt(v, f"{path}.{k}", secrets, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypt(v, f"{path}[{i}]", secrets, found) for i, v in enumerate(value)]
    return value


def _stand_in(path: str) -> str:
    if path == "primaryPassword":
        return TEST_PASSWORD
    if path.endswith("privateKey"):
        return stand_in_pem("PRIVATE KEY", f"TEST-SECRET[{path}]")
    return f"TEST-SECRET[{path}]"


def run_program(
    stack_file: Path = EXAMPLE_STACK,
    secrets: Optional[dict[str, str]] = None,
    *,
    config: Optional[dict[str, str]] = None,
    secret_keys: Iterable[str] = (),
    stack: str = "test",
    preview: bool = False,
    program: Path = PROGRAM,
    record: bool = True,
    cli_version: Optional[str] = CURRENT_CLI,
) -> ProgramRun:
    """Run `__main__.py` (or another program) against a stack file or a config bag under mocks.

    record=False skips keeping each registration's wire form (benchmarks time the program, not
    the recorder); `resources` then only counts registrations. cli_version is what the mocked
    engine claims to be (None: a CLI from before RequirePulumiVersion).
    """
    if config is None:
        config, file_secret_keys = stack_file_config(stack_file, secrets)
        secret_keys = list(secret_keys) + file_secret_keys
    return contextvars.Context().run(
        _run_isolated, config, list(secret_keys), stack, preview, program, record, cli_version
    )


# pulumi.dynamic's serialize_provider wraps pickle._Pickler._batch_setitems once more on every call
# and never unwraps it (SDK 3.272): one program run adds a few dozen layers, but this process runs
# the program hundreds of times. Each run starts from the original, as a fresh `pulumi up` would.
_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def _run_isolated(
    config: dict[str, str],
    secret_keys: list[str],
    stack: str,
    preview: bool,
    program: Path,
    record: bool,
    cli_version: Optional[str],
) -> ProgramRun:
    pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    warnings: list[str] = []
    mocks = ProgramMocks()
    monitor = RecordingMonitor(mocks) if record else CountingMonitor(mocks)
    try:
        logger = logging.getLogger(f"pulumi-program-{id(warnings)}")
        logger.propagate = False
        logger.addHandler(_WarningCollector(warnings))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, logger=logger)
        pulumi.runtime.settings.SETTINGS.engine = VersionedEngine(logger, cli_version)
        pulumi.runtime.set_all_config(config, secret_keys)
        root = get_root_resource()

        async def main() -> tuple[dict[str, Any], set[str]]:
            await run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__"))
            values, secret = {}, set()
            for key, output in root.outputs.items():  # type: ignore[union-attr]
                out = pulumi.Output.from_input(output)
                values[key] = await out.future(with_unknowns=True)
                if await out.is_secret():
                    secret.add(key)
            return values, secret

        outputs, secret_outputs = loop.run_until_complete(main())
        return ProgramRun(
            monitor.records, mocks.calls, outputs, secret_outputs, warnings, getattr(monitor, "component_outputs", {})
        )
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


def in_runtime(
    fn: Callable[[asyncio.AbstractEventLoop], T], config: dict[str, str], secret_keys: Iterable[str] = ()
) -> T:
    """Call `fn(loop)` inside a fresh mock runtime, event loop and context holding this config bag."""

    def run() -> T:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(ProgramMocks(), project=PROJECT, stack="test")
            pulumi.runtime.set_all_config(config, list(secret_keys))
            return fn(loop)
        finally:
            loop.run_until_complete(wait_for_rpcs())
            loop.close()
            asyncio.set_event_loop(None)

    return contextvars.Context().run(run)
