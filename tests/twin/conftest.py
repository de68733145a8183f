"""Each scenario runs once per test session: its tests and README's generated table read the same
report."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from twin.aws_api import AwsApi
from twin.clock import Scheduler
from twin.killed import only_addresses_recorded
from twin.scenarios import SCENARIOS, Scenario, run_scenario
from twin.world import World

_reports: dict[str, dict[str, Any]] = {}


def report_of(scenario: Scenario) -> dict[str, Any]:
    if scenario.name not in _reports:
        _reports[scenario.name] = run_scenario(scenario)
    return _reports[scenario.name]


@pytest.fixture(scope="session")
def scenario() -> Callable[[str], dict[str, Any]]:
    return lambda name: report_of(SCENARIOS[name])


def stopped_nodes(report: dict[str, Any]) -> int:
    """How many instances AFTER's `up` (or a killed one's resumption) stopped."""
    ups = [report, *report.get("then", [])]
    return sum(n["stops"] for up in ups for site in up["sites"].values() for n in site.get("instances", {}).values())


def settles(report: dict[str, Any]) -> None:
    """A further `up` changes nothing; after stopped instances, nothing but the addresses recorded:
    no drain, no stop, no install."""
    steps = report["second_up_steps"]
    assert report["second_up_changes"] == len(steps)
    if not stopped_nodes(report):
        assert steps == [], "a further up must change nothing"
    assert only_addresses_recorded(steps), f"a further up must change nothing but the addresses: {steps}"


@pytest.fixture
def world():
    """The twin's world with its AWS API answering boto3 (a test's own `world` fixture overrides it)."""
    sched = Scheduler()
    world = World(sched)
    api = AwsApi(world)
    api.install()
    yield world
    api.uninstall()
    sched.stop()
