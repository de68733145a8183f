"""Write the generated config reference into README.md (run as a module after changing the model).

`venv/bin/python -m stack_config.readme_sync` rewrites the block; `--check` only says whether it is
stale (exit 1) and writes nothing. Importing the module writes nothing either.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Sequence

from .reference import BEGIN, END, table

README = Path(__file__).resolve().parents[1] / "README.md"
STALE = "README's config reference is stale: run `venv/bin/python -m stack_config.readme_sync`"


def synced(text: str) -> str:
    block = f"{BEGIN}\n{table()}\n{END}"
    return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)


def main(argv: Sequence[str]) -> int:
    # README is looked up here, not bound at import: tests point it at a copy.
    current = README.read_text()
    if "--check" in argv:
        if synced(current) != current:
            print(STALE, file=sys.stderr)
            return 1
        return 0
    README.write_text(synced(current))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
