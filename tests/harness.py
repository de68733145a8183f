"""What the tests share: the program under Pulumi's mocks (twin/program.py and its mocks, which the
twin and the benchmarks use too) and the helpers that read a run's wire inputs."""

from __future__ import annotations

from typing import Any

from twin.mocked_engine import VersionedEngine  # noqa: F401  (re-exported for the tests)
from twin.mocks import ProgramMocks, default_vpc_of, mock_key_pair  # noqa: F401
from twin.program import (  # noqa: F401
    CURRENT_CLI,
    EXAMPLE_FILES,
    EXAMPLE_STACK,
    PROGRAM,
    PROJECT,
    ROOT,
    STACKS,
    TEST_PASSWORD,
    _stand_in,
    in_runtime,
    run_program,
    stack_file_config,
)
from twin.recorded import ProgramRun, RecordedResource  # noqa: F401
from twin.wire import SECRET_KEY, SECRET_SIG, revealed  # noqa: F401


def unwrap_secret(value: Any) -> Any:
    """The value inside a secret's wire wrapper (tests read what a resource really received)."""
    if isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG:
        return value["value"]
    return value


def find_plaintext(value: Any, needle: str, path: str = "") -> list[str]:
    """Paths in wire inputs where `needle` appears outside a Pulumi secret wrapper."""
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return []
        hits = []
        for k, v in value.items():
            hits += find_plaintext(v, needle, f"{path}.{k}")
        return hits
    if isinstance(value, list):
        hits = []
        for i, v in enumerate(value):
            hits += find_plaintext(v, needle, f"{path}[{i}]")
        return hits
    return [path] if isinstance(value, str) and needle in value else []
