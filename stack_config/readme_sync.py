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
    README.write_text(synced(README.read_text()))
