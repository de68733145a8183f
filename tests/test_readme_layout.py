"""README's Layout names every module of the program: a module added without a word there fails."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["facts", "stack_config", "components", "components/host_files", "providers", "twin"]


def layout() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Layout")
    return text[start : text.index("```", text.index("```", start) + 3)]


def test_every_module_is_named_in_the_readme_layout():
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", layout()))
    missing = [
        f"{package}/{path.name}"
        for package in PACKAGES
        for path in sorted((ROOT / package).glob("*.py"))
        if not path.stem.startswith("__") and path.stem not in words
    ]
    assert missing == [], f"README's Layout does not name: {missing}"


def test_every_doc_the_layout_names_exists():
    for name in re.findall(r"[\w-]+\.(?:md|json)", layout()):
        assert (ROOT / "docs" / name).exists(), name
