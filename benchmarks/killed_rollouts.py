"""Every rollout's `up` killed after each of its steps, then run again (issue #28 item 5): does the
next `up` converge, with nothing a finished node needed done twice, and does a rolling change keep
all nodes but one serving through the kill? The suite plays a seeded sample of steps per rollout
(tests/twin/test_killed_rollouts.py) and every step of the farm's bug-fix rollout; this plays them
all (about 10 s of real time each: a few minutes per rollout).

    venv/bin/python benchmarks/killed_rollouts.py [ROLLOUT ...]

Prints one line per kill point and exits non-zero when any did not converge or redid a step.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin.killed import KILLED_ROLLOUTS, killed, only_addresses_recorded, redone  # noqa: E402
from twin.scenarios import run_scenario  # noqa: E402

ROLLING = {"farm3-os-image", "farm2-scale-2-3", "farm3-scale-3-2", "farm3-bugfix", "farm3-instance-type"}
ALL = {**KILLED_ROLLOUTS, "farm3-bugfix": 30}


def problems(base: str, report: dict) -> list[str]:
    found = []
    (again,) = report["then"]
    # After a stop and start, a further up records the nodes' new addresses and changes nothing else.
    steps = report["second_up_steps"]
    settled = report["second_up_changes"] == len(steps) and only_addresses_recorded(steps)
    if not (again["converged"] and report["converged_in_the_end"] and settled):
        found.append(f"not converged: {again['error'] or report.get('second_up_error')}")
    if any(site["upgrade_mode_after"] for site in again["sites"].values()):
        found.append("upgrade mode left on")
    found += [f"done twice: {step}" for step in redone(report["steps"], again["steps"])]
    if base in ROLLING:
        for up in (report, again):
            for name, site in up["sites"].items():
                if site["min_serving"] < min(site["nodes"], 2) - 1:
                    found.append(f"{name}: {site['min_serving']} of {site['nodes']} serving")
    return found


def main(bases: list[str]) -> int:
    failed = 0
    for base in bases or sorted(ALL):
        for k in range(1, ALL[base] + 1):
            started = time.monotonic()
            report = run_scenario(killed(base, k))
            found = problems(base, report)
            failed += bool(found)
            print(f"{base} killed after {k:>2}: {'; '.join(found) or 'converges'} ({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
