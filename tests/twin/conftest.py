"""Each scenario runs once per test session: its tests and README's generated table read the same
report."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from twin.scenarios import SCENARIOS, Scenario, run_scenario

_reports: dict[str, dict[str, Any]] = {}


def report_of(scenario: Scenario) -> dict[str, Any]:
    if scenario.name not in _reports:
        _reports[scenario.name] = run_scenario(scenario)
    return _reports[scenario.name]


@pytest.fixture(scope="session")
def scenario() -> Callable[[str], dict[str, Any]]:
    return lambda name: report_of(SCENARIOS[name])
