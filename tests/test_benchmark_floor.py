"""The program-evaluation benchmark's floor is the same work as the program's registrations: its
typed replay registers every resource of a program run with the same type, name, parent and
inputs, through the SDK's own classes (benchmarks/program_floor.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.program_floor import REPLAY, replay_plan
from tests.harness import STACKS, ProgramRun, run_program, unwrap_secret

STACK = STACKS / "farm-3.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[ProgramRun, ProgramRun]:
    """The program on farm-3, and the typed replay of what it registered."""
    plan = tmp_path_factory.mktemp("floor") / "plan.json"
    plan.write_text(json.dumps(replay_plan(STACK)))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REPLAY_PLAN", str(plan))
        env.setenv("REPLAY_CLASSES", "typed")
        replay = run_program(STACK, program=REPLAY)
    return run_program(STACK), replay


def test_the_typed_replay_registers_exactly_what_the_program_did(runs):
    program, replay = runs
    ours = {r.urn: r for r in program.resources}
    theirs = {r.urn: r for r in replay.resources}
    assert ours.keys() == theirs.keys() and len(ours) > 100
    for urn, resource in ours.items():
        assert theirs[urn].parent == resource.parent, urn
        if resource.custom and not resource.typ.startswith("pulumi-python:dynamic/"):
            assert theirs[urn].wire_inputs == resource.wire_inputs, urn
        elif resource.custom:  # dynamic: the same inputs, another (no-op) provider
            assert {k: v for k, v in theirs[urn].wire_inputs.items() if k != "__provider"} == {
                k: v for k, v in resource.wire_inputs.items() if k != "__provider"
            }, urn


def test_the_plan_names_only_modules_the_program_really_loaded():
    # In a process of its own: the suite's earlier tests have loaded the SDK modules already.
    import subprocess
    import sys

    script = (
        "import sys, json; from pathlib import Path; from benchmarks.program_floor import replay_plan; "
        f"plan = replay_plan(Path({str(STACK)!r})); "
        "print(json.dumps([plan['modules'], [m for m in sys.modules if m.startswith('pulumi_aws.') "
        "and type(sys.modules[m]).__name__ == '_LazyModule']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    modules, still_lazy = json.loads(out.strip().splitlines()[-1])
    assert "pulumi_aws.ec2.instance" in modules and "pulumi_command.remote.command" in modules
    # Modules the program imported but never read stay out: the replay must not pay for them.
    assert still_lazy and not set(still_lazy) & set(modules)


def test_the_floors_dynamic_provider_is_pickled_by_reference_like_the_programs(runs):
    # The SDK pickles a dynamic resource's provider into its `__provider` input: by reference when its
    # class lives in an importable module (a few dozen bytes), by value when it lives in `__main__`.
    program, replay = runs

    def longest(run):
        return max(
            len(unwrap_secret(r.wire_inputs["__provider"]))
            for r in run.resources
            if r.custom and r.typ.startswith("pulumi-python:dynamic/")
        )

    assert longest(replay) < 300 and longest(replay) <= 2 * longest(program)
