"""Fixtures for tests that drive the SDK's own provider host over gRPC."""

from __future__ import annotations

from typing import Iterator

import pytest

from twin.emulator import Emulator
from twin.provider_host.engine import Engine, HostProcess

PASSWORD = "pw-Host-Level-7c2e"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(password=PASSWORD) as emulator:
        yield emulator


@pytest.fixture
def start_host():
    """Start hosts (as the engine does for up, refresh, destroy); all are stopped at the end."""
    started: list[tuple[HostProcess, Engine]] = []

    def start(**kwargs) -> Engine:
        host = HostProcess(**kwargs)
        engine = Engine(host)
        started.append((host, engine))
        return engine

    yield start
    for host, engine in started:
        engine.close()
        host.stop()
