"""One way to build a node's remote command (components/node_command.py): the pinned connection,
what a change of inputs runs, how a bundle on stdin is unpacked."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.resource_types import COMMAND

COMPONENTS = Path(__file__).resolve().parents[2] / "components"


def test_no_component_builds_a_remote_command_but_through_node_command():
    built = []
    for path in sorted(COMPONENTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Command":
                built.append(path.name)
    assert built == ["node_command.py"], built


def test_every_command_on_a_node_pins_its_host_key_and_unpacks_bundles_one_way(runs):
    run = runs["monitored"]
    commands = run.of_type(COMMAND)
    assert commands
    for command in commands:
        connection = command.inputs["connection"]
        assert connection.get("hostKey"), f"{command.name}: connects without a pinned host key"
        create = command.inputs["create"]
        if "tar -xzf" in create:
            assert "base64 -d | " in create and "--no-same-owner" in create, command.name
    metrics = [c for c in commands if c.name.endswith("-metrics")]
    assert metrics and all("update" not in c.inputs for c in metrics), (
        "a new publisher must install again (no update: create runs again)"
    )
