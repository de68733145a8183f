"""One program evaluation under mocks, in its own process (run by program_floor.py).

Prints one JSON line: resources registered and the in-process wall time; the parent measures the
process's wall time and peak memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.program import run_program  # noqa: E402  (import time is part of what is measured)


def main() -> None:
    program, stack_file = Path(sys.argv[1]), Path(sys.argv[2])
    run = run_program(stack_file, program=program, record=False)
    print(json.dumps({"resources": len(run.resources), "in_process_s": time.perf_counter() - START}))


if __name__ == "__main__":
    main()
