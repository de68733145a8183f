"""Program evaluation against the SDK's floor.

The program registers ~640 resources for 10 sites of 3 nodes; most of its evaluation time is the
SDK registering them. The floor is what any program registering those resources must pay: a replay
(`benchmarks/replay/`) of exactly the registrations this program made, with plain
`CustomResource`/`ComponentResource` and the same SDK modules imported, plus the measured
surcharge of the SDK's typed classes over plain registration (as many typed as plain security
groups, `benchmarks/surcharge/`). Everything runs under the same mocks (tests/harness.py), each
evaluation in its own process, median of the repeats, all in one run.
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

from tests.harness import run_program  # noqa: E402

PROGRAM = ROOT / "__main__.py"
REPLAY = ROOT / "benchmarks" / "replay" / "__main__.py"
SURCHARGE = ROOT / "benchmarks" / "surcharge" / "__main__.py"
TARGET_RATIO = 1.25
SITES, NODES = 10, 3


def generated_stack(sites: int = SITES, nodes: int = NODES) -> dict:
    entries = [{"name": f"site{i}", "baseUrl": f"https://mirror-{i}.example.com", "nodes": nodes,
                "tls": {"mode": "acm", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "projects": [f"P{i}", "OPS"]}
               for i in range(sites)]
    return {"config": {
        "aws:region": "ap-southeast-2",
        "bitbucket-mirrors:primary": {"url": "https://bitbucket.example.com", "username": "admin",
                                      "cidrs": ["203.0.113.10/32"]},
        "bitbucket-mirrors:primaryPassword": {"secure": "v1:placeholder"},
        "bitbucket-mirrors:network": {"clientCidrs": ["10.0.0.0/8"], "adminCidrs": ["198.51.100.7/32"]},
        "bitbucket-mirrors:mirrors": entries}}


def replay_plan(stack_file: Path) -> dict:
    """The registrations of one program run, and the SDK modules it had imported."""
    before = set(sys.modules)
    run = run_program(stack_file)
    modules = sorted(m for m in set(sys.modules) - before
                     if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_command", "pulumi_tls", "pulumi_random"))
    resources = [{"type": r.typ, "name": r.name, "urn": r.urn, "custom": r.custom, "parent": r.parent,
                  "dependencies": sorted(set(r.dependencies) | {u for us in r.property_dependencies.values() for u in us}),
                  "inputs": r.wire_inputs, "outputs": run.component_outputs.get(r.urn)} for r in run.resources]
    return {"modules": modules, "resources": resources}


@dataclass(frozen=True)
class Measurement:
    resources: int
    wall_s: float


def measure(program: Path, stack_file: Path, repeats: int, env: dict[str, str]) -> Measurement:
    walls, resources = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_once.py"), str(program), str(stack_file)],
                             capture_output=True, cwd=ROOT, env={**os.environ, **env}, check=True).stdout.decode()
        walls.append(time.perf_counter() - start)
        resources = json.loads(out.strip().splitlines()[-1])["resources"]
    return Measurement(resources, statistics.median(walls))


def run(repeats: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        stack_file = Path(tmp) / "Pulumi.floor.yaml"
        stack_file.write_text(yaml.safe_dump(generated_stack()))
        plan_file = Path(tmp) / "plan.json"
        plan = replay_plan(stack_file)
        plan_file.write_text(json.dumps(plan))
        typed_count = sum(1 for r in plan["resources"] if r["custom"])
        program = measure(PROGRAM, stack_file, repeats, {})
        replay = measure(REPLAY, stack_file, repeats, {"REPLAY_PLAN": str(plan_file)})
        typed = measure(SURCHARGE, stack_file, repeats, {"SURCHARGE_KIND": "typed", "SURCHARGE_COUNT": str(typed_count)})
        plain = measure(SURCHARGE, stack_file, repeats, {"SURCHARGE_KIND": "plain", "SURCHARGE_COUNT": str(typed_count)})
    surcharge = max(0.0, typed.wall_s - plain.wall_s)
    floor = replay.wall_s + surcharge
    ratio = program.wall_s / floor
    return [
        {"benchmark": f"program: {SITES} sites / {SITES * NODES} nodes ({program.resources} resources)",
         "measure": f"preview-equivalent evaluation under mocks, own process, wall (median of {repeats})",
         "value": f"{program.wall_s:.2f} s ({ratio:.2f}x floor)",
         "baseline / naive": (f"floor {floor:.2f} s = replay of the same {replay.resources} registrations "
                              f"{replay.wall_s:.2f} s + typed-class surcharge {surcharge:.2f} s "
                              f"({typed_count} typed {typed.wall_s:.2f} s - plain {plain.wall_s:.2f} s)"),
         "target": f"<= {TARGET_RATIO}x floor", "result": "met" if ratio <= TARGET_RATIO else "MISSED"},
    ]


if __name__ == "__main__":
    for row in run(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(row)
