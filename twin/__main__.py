"""python -m twin BEFORE.yaml AFTER.yaml [--fail-install K ...] [--kill-after K] [--release boot]

The first `up` of BEFORE, then the `up` of AFTER (node K's install failing, or the process killed
after step K), then one more `up` of AFTER; prints the twin's report as one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .scenarios import run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument(
        "--fail-install",
        type=int,
        action="append",
        default=[],
        metavar="K",
        help="Bitbucket does not start on node K when AFTER's up installs a new version on it",
    )
    parser.add_argument("--kill-after", type=int, metavar="K", help="AFTER's up is killed after its K-th step")
    parser.add_argument("--release", choices=["boot"], help="AFTER runs a later release: a changed boot script")
    parser.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="the engine's --parallel (default: PULUMI_PARALLEL, else 4 x the deployer's 2 cores = 8, as `pulumi up`)",
    )
    args = parser.parse_args(argv)
    report = run(
        args.before,
        args.after,
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
