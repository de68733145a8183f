"""Write the generated config reference into README.md (run as a module after changing the model)."""
from __future__ import annotations

import re
from pathlib import Path

from .reference import BEGIN, END, table

README = Path(__file__).resolve().parents[1] / "README.md"


def synced(text: str) -> str:
    block = f"{BEGIN}\n{table()}\n{END}"
    return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)


if __name__ == "__main__":
    import sys
    current = README.read_text()
    if "--check" in sys.argv[1:]:   # CI-style: say whether README is stale, write nothing
        sys.exit(0 if synced(current) == current else "README's config reference is stale: run "
                 "`venv/bin/python -m stack_config.readme_sync`")
    README.write_text(synced(current))
