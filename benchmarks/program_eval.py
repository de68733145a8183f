"""Program evaluation under mocks: wall time and peak memory of the real program on generated
stacks (1 mirror; 10 mirrors of 1-3 nodes), beside a bare one-instance program, same run."""
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
PROGRAM = ROOT / "__main__.py"
BASELINE = ROOT / "benchmarks" / "baseline" / "__main__.py"
TARGET_RATIO = 1.5


def generated_stack(mirrors: int) -> dict:
    entries = []
    for i in range(mirrors):
        nodes = 1 + i % 3
        tls = ({"mode": "acm", "hostedZoneId": "Z0123456789ABCDEFGHIJ"} if nodes > 1 or i % 2 == 0 else
               {"mode": "nginx", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "privateKey": {"secure": "v1:placeholder"}})
        entries.append({"name": f"site{i}", "baseUrl": f"https://mirror-{i}.example.com", "nodes": nodes,
                        "tls": tls, "projects": [f"P{i}", "OPS"]})
    return {"config": {
        "aws:region": "ap-southeast-2",
        "bitbucket-mirrors:primary": {"url": "https://bitbucket.example.com", "username": "admin",
                                      "cidrs": ["203.0.113.10/32"]},
        "bitbucket-mirrors:primaryPassword": {"secure": "v1:placeholder"},
        "bitbucket-mirrors:network": {"clientCidrs": ["10.0.0.0/8"], "adminCidrs": ["198.51.100.7/32"]},
        "bitbucket-mirrors:mirrors": entries}}


@dataclass(frozen=True)
class Measurement:
    label: str
    resources: int
    wall_s: float
    peak_mib: float


def measure(label: str, program: Path, stack_file: Path, repeats: int, instances: int = 1) -> Measurement:
    walls, peaks, resources = [], [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "eval_once.py"), str(program), str(stack_file)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
                                 env={**os.environ, "BASELINE_INSTANCES": str(instances)})
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        out = child.stdout.read().decode() if child.stdout else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{label}: evaluation failed")
        resources = json.loads(out.strip().splitlines()[-1])["resources"]
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
    return Measurement(label, resources, statistics.median(walls), statistics.median(peaks))


def run(repeats: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        stacks = {}
        for mirrors in (1, 10):
            path = Path(tmp) / f"Pulumi.bench{mirrors}.yaml"
            path.write_text(yaml.safe_dump(generated_stack(mirrors)))
            stacks[mirrors] = path
        baseline = measure("baseline: pulumi_aws + 1 instance", BASELINE, stacks[1], repeats)
        results = [baseline]
        for mirrors, path in stacks.items():
            results.append(measure(f"program: {mirrors} mirror{'s' if mirrors > 1 else ''}", PROGRAM, path, repeats))
        # Context, not a target: the same number of resources as bare instances shows what the
        # SDK's per-resource cost is, apart from anything this program adds.
        same_size = measure("baseline", BASELINE, stacks[1], repeats, instances=results[-1].resources)
    rows = []
    for m in results[1:]:
        ratio = m.wall_s / baseline.wall_s
        gated = m.label.endswith("10 mirrors")
        rows.append({
            "benchmark": f"{m.label} ({m.resources} resources)",
            "measure": "preview-equivalent evaluation under mocks: wall (median) / peak RSS",
            "value": f"{m.wall_s:.2f} s / {m.peak_mib:.0f} MiB ({ratio:.2f}x wall)",
            "baseline / naive": f"{baseline.wall_s:.2f} s / {baseline.peak_mib:.0f} MiB (pulumi_aws + 1 instance)",
            "target": f"<= {TARGET_RATIO}x baseline wall" if gated else "",
            "result": ("met" if ratio <= TARGET_RATIO else "MISSED") if gated else ""})
    rows.append({
        "benchmark": f"context: bare program with {same_size.resources} instances (as many resources as 10 mirrors)",
        "measure": "wall (median) / peak RSS",
        "value": f"{same_size.wall_s:.2f} s / {same_size.peak_mib:.0f} MiB ({same_size.wall_s / baseline.wall_s:.2f}x)",
        "baseline / naive": f"program, 10 mirrors: {results[-1].wall_s / same_size.wall_s:.2f}x of this",
        "target": "", "result": ""})
    return rows


if __name__ == "__main__":
    for row in run(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(row)
