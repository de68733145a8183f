"""Check a stack file offline: `scripts/up.sh --check dev`, or by hand right after a clone:
`python3 -m venv .check && .check/bin/pip install -r requirements-check.txt &&
.check/bin/python -m stack_config.check Pulumi.dev.yaml` (pydantic, PyYAML and cryptography only:
nothing here imports Pulumi or AWS packages).

Runs every config rule `pulumi preview` runs (the same `validation.check_config_bag`, on the config
the CLI would hand the program), with no Pulumi CLI, no AWS and no network, and exits non-zero
with the same message preview prints. It also says what only the file shows: `secure:` values that
are no ciphertext (Pulumi.example.yaml's placeholders) and secrets written in plain text. `secure:`
values cannot be decrypted offline: at secret keys they count as present and well formed.

On a stack without problems it also prints what the stack creates and about what it costs a month
(estimate.py). Exit status: 0 no problem, 1 problems (listed on stderr), 2 the file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from .errors import Problem, problems_text
from .estimate import report
from .primary_reach import primary_reach_problems
from .stack_file import StackFileError, read_stack_file
from .validation import check_config_bag

USAGE = "usage: python -m stack_config.check Pulumi.<stack>.yaml (or: scripts/up.sh --check <stack>)"


def check_stack_file(path: Path) -> tuple[list[Problem], list[str]]:
    """The problems and warnings of a stack file (StackFileError when it is not one)."""
    problems, warnings, _ = _checked(path)
    return problems, warnings


def _checked(path: Path) -> tuple[list[Problem], list[str], Optional[str]]:
    """Problems, warnings, and for a stack without problems what it creates and costs (estimate.py)."""
    stack_file = read_stack_file(path)
    warnings = list(stack_file.warnings)
    checked = check_config_bag(stack_file.bag, warnings.append, unreadable=stack_file.unreadable)
    problems = [*stack_file.problems, *checked.problems]
    if checked.model is not None:
        # Offline: no resolver, so a primary named by host is a warning (preview resolves and refuses).
        problems += primary_reach_problems(checked.model, warnings.append, resolver=None)
    planned = report(checked.model, checked.aws_region) if checked.model is not None and not problems else None
    return list(dict.fromkeys(problems)), warnings, planned


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.is_file():
        print(f"{path}: no such file (copy Pulumi.example.yaml to it and adapt it)", file=sys.stderr)
        return 2
    try:
        problems, warnings, planned = _checked(path)
    except StackFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        # The text `pulumi preview` prints for the same config.
        print(f"error: {problems_text(problems)}", file=sys.stderr)
        return 1
    print(f"{path}: no problems (the rules of pulumi preview; secure values checked for their shape only)")
    if planned:
        print(planned)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
