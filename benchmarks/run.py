"""Run every benchmark and print one table (see benchmarks/README.md). Not part of the test suite."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import approval_latency, fleet_host, program_floor, projects_reconcile, rollout_times  # noqa: E402

COLUMNS = ["benchmark", "measure", "value", "baseline / naive", "target", "result"]


def machine() -> str:
    import os

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    rows = (
        program_floor.run() + projects_reconcile.run() + approval_latency.run() + fleet_host.run() + rollout_times.run()
    )
    print(f"Machine: {machine()}\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
    missed = [r for r in rows if str(r.get("result", "")).startswith("MISSED")]  # "MISSED on the worst seed ..."
    if missed:
        print(f"\n{len(missed)} target(s) missed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
