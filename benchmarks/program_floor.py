"""Program evaluation against the SDK's floor.

The program registers ~1,050 resources for 10 sites of 3 nodes; most of its evaluation time is the
SDK registering them. The floor is what any program registering those resources must pay: a replay
(`benchmarks/replay/`) of exactly the registrations this program made (types, names, inputs,
parents, dependencies, components' outputs; the SDK modules the program loaded), each custom
resource through the SDK's own class for its type (REPLAY_CLASSES=typed). That typed replay
registers the same inputs as the program (tests/test_benchmark_floor.py).

Also reported, as the first approximation of that floor: the plain replay (`CustomResource` /
`ComponentResource` only) plus the typed-class surcharge measured on as many security groups
(`benchmarks/surcharge/`). It understates the floor: a typed security group costs about 0.3 ms
over plain registration, a typed EC2 instance about 6 ms, a pulumi-command Command about 2 ms.
Everything runs under the same mocks (twin/program.py), each evaluation in its own process,
round after round, median of the repeats, all in one run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.program import run_program  # noqa: E402

PROGRAM = ROOT / "__main__.py"
REPLAY = ROOT / "benchmarks" / "replay" / "__main__.py"
SURCHARGE = ROOT / "benchmarks" / "surcharge" / "__main__.py"
TARGET_RATIO = 1.25
SITES, NODES = 10, 3


def generated_stack(sites: int = SITES, nodes: int = NODES) -> dict:
    entries = [
        {
            "name": f"site{i}",
            "baseUrl": f"https://mirror-{i}.example.com",
            "nodes": nodes,
            "tls": {"mode": "acm", "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
            "projects": [f"P{i}", "OPS"],
        }
        for i in range(sites)
    ]
    return {
        "config": {
            "aws:region": "ap-southeast-2",
            "bitbucket-mirrors:primary": {
                "url": "https://bitbucket.example.com",
                "username": "admin",
                "cidrs": ["203.0.113.10/32"],
            },
            "bitbucket-mirrors:primaryPassword": {"secure": "v1:placeholder"},
            "bitbucket-mirrors:network": {"clientCidrs": ["10.0.0.0/8"], "adminCidrs": ["198.51.100.7/32"]},
            "bitbucket-mirrors:mirrors": entries,
        }
    }


def replay_plan(stack_file: Path) -> dict:
    """The registrations of one program run, and the SDK modules it had imported."""
    before = set(sys.modules)
    run = run_program(stack_file)
    # The SDKs import their modules lazily: a module the program never touched is in sys.modules but
    # was never executed. The replay executes exactly the ones the program did.
    modules = sorted(
        m
        for m in set(sys.modules) - before
        if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_command", "pulumi_tls", "pulumi_random")
        and type(sys.modules[m]).__name__ != "_LazyModule"
    )
    resources = [
        {
            "type": r.typ,
            "name": r.name,
            "urn": r.urn,
            "custom": r.custom,
            "parent": r.parent,
            "dependencies": sorted(set(r.dependencies) | {u for us in r.property_dependencies.values() for u in us}),
            "inputs": r.wire_inputs,
            "outputs": run.component_outputs.get(r.urn),
        }
        for r in run.resources
    ]
    return {"modules": modules, "resources": resources}


@dataclass(frozen=True)
class Measurement:
    resources: int
    wall_s: float


def _once(program: Path, stack_file: Path, env: dict[str, str]) -> tuple[int, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "eval_once.py"), str(program), str(stack_file)],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    ).stdout.decode()
    return json.loads(out.strip().splitlines()[-1])["resources"], time.perf_counter() - start


def measure_interleaved(
    runs: dict[str, tuple[Path, dict[str, str]]], stack_file: Path, repeats: int
) -> dict[str, Measurement]:
    """Each run once per round, round after round: a machine that slows down mid-way slows every
    run alike instead of the ones measured last."""
    walls: dict[str, list[float]] = {label: [] for label in runs}
    counts: dict[str, int] = {}
    for _ in range(repeats):
        for label, (program, env) in runs.items():
            counts[label], wall = _once(program, stack_file, env)
            walls[label].append(wall)
    return {label: Measurement(counts[label], statistics.median(walls[label])) for label in runs}


def run(repeats: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        stack_file = Path(tmp) / "Pulumi.floor.yaml"
        stack_file.write_text(yaml.safe_dump(generated_stack()))
        plan_file = Path(tmp) / "plan.json"
        plan = replay_plan(stack_file)
        plan_file.write_text(json.dumps(plan))
        # The first approximation counts the generated classes only (dynamic resources have none).
        typed_count = sum(
            1 for r in plan["resources"] if r["custom"] and not r["type"].startswith("pulumi-python:dynamic/")
        )
        measured = measure_interleaved(
            {
                "program": (PROGRAM, {}),
                "typed replay": (REPLAY, {"REPLAY_PLAN": str(plan_file), "REPLAY_CLASSES": "typed"}),
                "replay": (REPLAY, {"REPLAY_PLAN": str(plan_file)}),
                "typed": (SURCHARGE, {"SURCHARGE_KIND": "typed", "SURCHARGE_COUNT": str(typed_count)}),
                "plain": (SURCHARGE, {"SURCHARGE_KIND": "plain", "SURCHARGE_COUNT": str(typed_count)}),
            },
            stack_file,
            repeats,
        )
    program, floor, replay = measured["program"], measured["typed replay"], measured["replay"]
    surcharge = max(0.0, measured["typed"].wall_s - measured["plain"].wall_s)
    approximation = replay.wall_s + surcharge
    ratio = program.wall_s / floor.wall_s
    return [
        {
            "benchmark": f"program: {SITES} sites / {SITES * NODES} nodes ({program.resources} resources)",
            "measure": (
                f"preview-equivalent evaluation under mocks, own process, wall (median of {repeats}, interleaved)"
            ),
            "value": f"{program.wall_s:.2f} s ({ratio:.2f}x floor)",
            "baseline / naive": (
                f"floor {floor.wall_s:.2f} s: the same {floor.resources} registrations through the SDK's "
                f"own classes (typed replay); plain replay {replay.wall_s:.2f} s + security-group "
                f"surcharge {surcharge:.2f} s ({typed_count} typed - plain) = {approximation:.2f} s, "
                f"program {program.wall_s / approximation:.2f}x that"
            ),
            "target": f"<= {TARGET_RATIO}x floor",
            "result": "met" if ratio <= TARGET_RATIO else "MISSED",
        },
    ]


if __name__ == "__main__":
    for row in run(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(row)
