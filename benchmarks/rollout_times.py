"""Rollout times from the twin (issue #29), in the twin's modelled time (twin/durations.py, with the
twin's seeded clients cloning throughout, twin/clients.py): a 3-node farm's bug-fix rollout and the
clones it failed, and how soon a new site serves with 1 node and with 3. Deterministic: the same
figures on every machine; about a minute of real time."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.program import STACKS  # noqa: E402
from twin.scenarios import SCENARIOS, run_scenario  # noqa: E402
from twin.scenarios import run as first_ups  # noqa: E402

# Before issue #29 (main at 71406d2): every drain waited out the 300 s deregistration delay, and a
# farm's instances launched one after the other.
BUGFIX_BEFORE_S, FIRST_SERVING_RATIO_BEFORE = 1514.0, 1.23
BUGFIX_GOAL_S, FIRST_SERVING_GOAL = 15 * 60.0, 1.10


def _quiet(fn, *args):
    # The providers' progress lines go to stderr: one table is what this prints.
    with contextlib.redirect_stderr(io.StringIO()):
        return fn(*args)


def measure() -> dict[str, float]:
    bugfix = _quiet(run_scenario, SCENARIOS["farm3-bugfix"])
    (site,) = bugfix["sites"].values()
    single = _quiet(first_ups, STACKS / "single-acm.yaml")
    farm = _quiet(first_ups, STACKS / "farm-3.yaml")
    return {
        "bugfix_s": bugfix["modelled_wall_s"],
        "started": site["clones"]["started"],
        "failed": site["clones"]["failed"],
        "min_serving": site["min_serving"],
        "single_s": next(iter(single["sites"].values()))["serving_from_s"],
        "farm_s": next(iter(farm["sites"].values()))["serving_from_s"],
    }


def rows(m: dict[str, float]) -> list[dict]:
    ratio = m["farm_s"] / m["single_s"]
    return [
        {
            "benchmark": "twin: 3-node farm bug-fix rollout",
            "measure": "modelled wall time of the up (clones arriving throughout)",
            "value": f"{m['bugfix_s'] / 60:.1f} min",
            "baseline / naive": f"{BUGFIX_BEFORE_S / 60:.1f} min (every drain waits the 300 s delay)",
            "target": f"<= {BUGFIX_GOAL_S / 60:.0f} min",
            "result": "met" if m["bugfix_s"] <= BUGFIX_GOAL_S else "MISSED",
        },
        {
            "benchmark": "twin: clones failed during that rollout",
            "measure": f"of {m['started']:.0f} started; fewest nodes serving {m['min_serving']:.0f} of 3",
            "value": f"{m['failed']:.0f}",
            "baseline / naive": "0 (the full delay cut none either)",
            "target": "0",
            "result": "met" if m["failed"] == 0 else "MISSED",
        },
        {
            "benchmark": "twin: a new site serves",
            "measure": "first up, modelled time until the site serves (approved, answering): 3 nodes / 1 node",
            "value": f"{m['farm_s'] / 60:.1f} / {m['single_s'] / 60:.1f} min = {ratio:.2f}x",
            "baseline / naive": f"{FIRST_SERVING_RATIO_BEFORE:.2f}x (instances launched one after the other)",
            "target": f"<= {FIRST_SERVING_GOAL:.2f}x",
            "result": "met" if ratio <= FIRST_SERVING_GOAL else "MISSED",
        },
    ]


def run() -> list[dict]:
    return rows(measure())


if __name__ == "__main__":
    for row in run():
        print(" | ".join(str(v) for v in row.values()))
