"""Every resource of every stack file keeps its URN, type, parent and input names (issue #32: the
rollout plan changed how the Python code passes values, not what a running stack holds).

The record (data/urns.json) was taken from the program before the change. A resource renamed,
re-typed or re-parented would be replaced on the next `up` (a node's instance, its home); a dynamic
provider's input renamed would diff every node's step. If a change here is meant, it needs an alias
(for a URN) or a migration (for an input) first: then regenerate the record with
`python -m tests.components.test_urns_kept` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORD = Path(__file__).parent / "data" / "urns.json"


def shape(run) -> list[list]:
    """(urn, type, parent, sorted input names) of every resource, sorted."""
    return sorted([r.urn, r.typ, r.parent, sorted(r.inputs)] for r in run.resources)


def recorded() -> dict[str, list[list]]:
    return json.loads(RECORD.read_text())


def test_the_record_covers_every_stack_file(runs):
    assert sorted(recorded()) == sorted(runs)


@pytest.mark.parametrize("stack", sorted(recorded()))
def test_every_urn_type_parent_and_input_name_is_kept(runs, stack):
    now, then = shape(runs[stack]), recorded()[stack]
    gone = [r for r in then if r not in now]
    new = [r for r in now if r not in then]
    assert (gone, new) == ([], []), f"{stack}: resources that changed (before, after)"


if __name__ == "__main__":  # regenerate the record (only with an alias or a migration for what changed)
    from tests.components.conftest import SECRETS
    from tests.harness import EXAMPLE_FILES, EXAMPLE_STACK, STACKS, run_program

    stacks = {p.stem: p for p in STACKS.glob("*.yaml")}
    stacks["example"] = EXAMPLE_STACK
    stacks.update(EXAMPLE_FILES)
    record = {name: shape(run_program(path, SECRETS)) for name, path in sorted(stacks.items())}
    # One resource a line: a diff of the record reads as the resources that changed.
    lines = ",\n".join(
        f"  {json.dumps(stack)}: [\n" + ",\n".join(f"    {json.dumps(r)}" for r in rows) + "\n  ]"
        for stack, rows in record.items()
    )
    RECORD.write_text("{\n" + lines + "\n}\n")
