"""python -m twin STACK [STACK ...] [--fail-install K ...] [--kill-after K] [--release boot] [--parallel N]

The first `up` of the first stack file, then one `up` of each further file in turn (the second one's
with node K's install failing, or killed after its K-th step), then one more `up` of the last file;
prints the twin's report as one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .scenarios import run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", type=Path, nargs="+", metavar="STACK", help="stack files, in the order deployed")
    parser.add_argument(
        "--fail-install",
        type=int,
        action="append",
        default=[],
        metavar="K",
        help="Bitbucket does not start on node K when the second file's up installs a new version on it",
    )
    parser.add_argument("--kill-after", type=int, metavar="K", help="the second file's up is killed after step K")
    parser.add_argument(
        "--release", choices=["boot"], help="the second file runs a later release: a changed boot script"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        help="the engine's --parallel (default: PULUMI_PARALLEL, else 4 x the deployer's 2 cores = 8, as pulumi up)",
    )
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.stacks if not p.is_file()]
    if missing:
        parser.error(f"no such stack file: {', '.join(missing)}")
    first, *rest = args.stacks
    report = run(
        first,
        rest[0] if rest else None,
        then=tuple(rest[1:]),
        failing_nodes=tuple(args.fail_install),
        kill_after=args.kill_after,
        release=args.release,
        parallel=args.parallel,
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
