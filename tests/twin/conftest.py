"""Each scenario runs once per test session: its tests and README's generated table read the same
report."""

from __future__ import annotations

import re
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


# What the `up` after one that stopped and started nodes does (their type or user data changed):
# each node's new public address read from EC2 (InstanceStartReturn) and given to the commands that
# ran before its drain, whose update runs nothing on the node (components/node_command.py UNCHANGED).
ADDRESS_RECORDED = re.compile(
    r"^(InstanceStartReturn \S+-start-return|Command \S+-(preflight|retire|stop-for-upgrade))$"
)


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
    moved = [s for s in steps if not (s["operation"] == "update" and ADDRESS_RECORDED.match(s["resource"]))]
    assert moved == [], "a further up must change nothing but the addresses a stop and start moved"
