"""A rehearsal of a change on the twin, before `pulumi up` makes it.

    venv/bin/python -m twin.rehearse Pulumi.dev.yaml                      # from the file committed at HEAD
    venv/bin/python -m twin.rehearse Pulumi.dev.yaml --against v1.4       # from the file at a git ref
    venv/bin/python -m twin.rehearse Pulumi.dev.yaml --before deployed.yaml

It plays a first `up` of what was last deployed, then the `up` of the file as it is now, on the twin
(the real program and providers, a simulated AWS and Bitbucket, stated durations), and prints for a
person: the refusals `pulumi preview` would give, the steps in order with their modelled times, the
nodes serving each site over time, and the clones its clients would see fail. It is a model: the
times are the twin's stated durations, not AWS's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from .scenarios import run

WIDTH = 60  # columns of a site's chart


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    stack = Path(args.stack)
    if not stack.is_file():
        print(f"error: no such stack file: {stack}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
        before = Path(args.before) if args.before else _at_ref(stack, args.against, Path(tmp))
        if before is None:
            return 2
        print(render(run(before, stack), before, stack))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m twin.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack file as you mean to deploy it (Pulumi.<stack>.yaml)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--before", metavar="FILE", help="the stack file as it was last deployed")
    source.add_argument(
        "--against", metavar="GIT-REF", default="HEAD", help="the git ref whose copy was last deployed (HEAD)"
    )
    return parser


def _at_ref(stack: Path, ref: str, directory: Path) -> Optional[Path]:
    """The stack file as committed at `ref`, written to `directory`."""
    found = subprocess.run(
        ["git", "show", f"{ref}:./{stack.name}"],
        cwd=stack.resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        print(
            f"error: git has no {stack.name} at {ref} ({found.stderr.strip()}); "
            "name what was last deployed with --before FILE",
            file=sys.stderr,
        )
        return None
    path = directory / f"{ref.replace('/', '_')}-{stack.name}"
    path.write_text(found.stdout)
    return path


def render(report: dict[str, Any], before: Path, after: Path) -> str:
    lines = [
        f"Rehearsal of {before.name} -> {after.name} on the twin (a model: modelled time, stated durations)",
        "",
    ]
    if report.get("refused_at_preview") or (report.get("error") and not report.get("steps")):
        lines += ["pulumi preview would refuse this change:", _indent(report.get("error") or "")]
        return "\n".join(lines)
    lines += _warnings(report)
    lines += _steps(report)
    for name, site in report["sites"].items():
        lines += ["", *_site(name, site, report["modelled_wall_s"])]
    for name, gone in report.get("removed_sites", {}).items():
        lines += [
            "",
            f"{name}: removed; mirror removed from the primary: {'yes' if gone['removed_from_primary'] else 'NO'}; "
            f"instances left: {gone['instances_after']}",
        ]
    lines += ["", _verdict(report)]
    return "\n".join(lines)


def _warnings(report: dict[str, Any]) -> list[str]:
    said = [w["message"] for w in report.get("preview_warnings", [])]
    return ["pulumi preview would warn:", *[_indent(m) for m in said], ""] if said else []


def _steps(report: dict[str, Any]) -> list[str]:
    steps = report["steps"]
    lines = [f"The up: {len(steps)} steps, {_clock(report['modelled_wall_s'])} modelled"]
    for step in steps:
        failed = f"  FAILED: {step['error']}" if step.get("error") else ""
        lines.append(
            f"  {_clock(step['start'])}-{_clock(step['end'])}  {step['operation']:<8} {step['resource']}{failed}"
        )
    if report.get("error"):
        lines.append(f"The up fails: {report['error']}")
    return lines


def _site(name: str, site: dict[str, Any], wall_s: float) -> list[str]:
    clones = site["clones"]
    head = (
        f"{name}: {site['nodes']} node(s), at least {site['min_serving']} serving; "
        f"clones: {clones['failed']} of {clones['started']} failed"
    )
    return [head, *chart(site["serving"], site["nodes"], wall_s)]


def chart(serving: list[list[float]], nodes: int, wall_s: float) -> list[str]:
    """Nodes serving over the `up`, one row per count (top: all nodes), one column per slice of time;
    a column is filled when at least that many served for the whole slice."""
    if wall_s <= 0 or not serving:
        return [f"  serving: {serving[-1][1] if serving else 0} (nothing changed)"]
    slice_s = wall_s / WIDTH
    lows = []
    for column in range(WIDTH):
        start, end = column * slice_s, (column + 1) * slice_s
        during = [n for t, n in serving if start < t < end]
        before = [n for t, n in serving if t <= start]
        lows.append(min(during + before[-1:]) if during or before else 0)
    rows = [
        (f"  {level} |" + "".join("#" if low >= level else " " for low in lows)).rstrip()
        for level in range(nodes, 0, -1)
    ]
    axis = f"    +{'-' * WIDTH}"
    return [*rows, axis, f"     0{' ' * (WIDTH - len(_clock(wall_s)) - 1)}{_clock(wall_s)}"]


def _verdict(report: dict[str, Any]) -> str:
    failed = sum(site["clones"]["failed"] for site in report["sites"].values())
    ends = "converges" if report.get("converged_in_the_end") else "does NOT converge"
    again = report.get("second_up_changes", 0)
    return f"Clients: {failed} clone(s) failed. The change {ends}; an up after it changes {again} resource(s)." + (
        f" ({report['second_up_error']})" if report.get("second_up_error") else ""
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in str(text).splitlines())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
