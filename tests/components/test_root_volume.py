"""Every node's root volume goes with its instance (issue #23): a node replaced, scaled away or
destroyed leaves no 30 GB volume behind to pay for (and none holding the node's old files). Checked
under the mocks for every stack file there is."""

from __future__ import annotations

import json

import pytest

from tests.harness import EXAMPLE_FILES, EXAMPLE_STACK, STACKS, stack_file_config
from tests.resource_types import INSTANCE

EVERY_STACK = sorted(STACKS.glob("*.yaml")) + [EXAMPLE_STACK, *EXAMPLE_FILES.values()]
# The session's runs (conftest.py) by the names it gives them.
STACK_NAMES = {
    **{p: p.stem for p in STACKS.glob("*.yaml")},
    EXAMPLE_STACK: "example",
    **{p: name for name, p in EXAMPLE_FILES.items()},
}


@pytest.mark.parametrize("stack", EVERY_STACK, ids=lambda p: p.stem)
def test_every_nodes_root_volume_is_deleted_with_its_instance(runs, stack):
    config, _ = stack_file_config(stack)
    nodes = sum(int(m.get("nodes", 1)) for m in json.loads(config["bitbucket-mirrors:mirrors"]))
    instances = runs[STACK_NAMES[stack]].of_type(INSTANCE)
    assert len(instances) == nodes  # every node, and nothing else, is an instance
    for instance in instances:
        root = instance.inputs["rootBlockDevice"]
        assert root["deleteOnTermination"] is True, f"{instance.name}: its root volume outlives it"
