"""What the stack-config tests share: the resources a program run registers, counted."""

from __future__ import annotations

import pytest

from tests.resource_types import STACK
from twin import mocked_engine


@pytest.fixture
def registered(monkeypatch) -> list[str]:
    """The type of every resource the program registers in this test (the stack itself aside): a
    refusal must come before the first."""
    found: list[str] = []
    original = mocked_engine.RecordingMonitor.RegisterResource

    def counting(self, request):
        if request.type != STACK:
            found.append(request.type)
        return original(self, request)

    monkeypatch.setattr(mocked_engine.RecordingMonitor, "RegisterResource", counting)
    return found
