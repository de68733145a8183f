"""docs/layout.md names every module of the program, and README links every contributor document:
a module added without a word in the Layout fails, and so does a link to a document that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["facts", "stack_config", "components", "components/host_files", "providers", "twin"]


def layout() -> str:
    text = (ROOT / "docs" / "layout.md").read_text()
    start = text.index("```")
    return text[start : text.index("```", start + 3)]


def test_every_module_is_named_in_the_layout():
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", layout()))
    missing = [
        f"{package}/{path.name}"
        for package in PACKAGES
        for path in sorted((ROOT / package).glob("*.py"))
        if not path.stem.startswith("__") and path.stem not in words
    ]
    assert missing == [], f"docs/layout.md does not name: {missing}"


def test_every_doc_the_layout_names_exists():
    for name in re.findall(r"[\w-]+\.(?:md|json)", layout()):
        assert (ROOT / "docs" / name).exists(), name


def test_every_document_readme_links_exists():
    # README keeps to the person deploying; what it moved out for contributors must still be reachable.
    links = re.findall(r"\]\((docs/[^)#\s]+)", (ROOT / "README.md").read_text())
    assert {"docs/layout.md", "docs/how-it-works.md", "docs/verification.md"} <= set(links), links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_readme_is_for_the_person_deploying_and_says_what_the_primary_needs_early():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 450, f"README has {len(lines)} lines: move contributor material to docs/"
    first = next(i for i, line in enumerate(lines) if line.startswith("## What the primary needs"))
    assert first < 150, "README's first screens say what the primary needs"
    assert [line for line in lines[:30] if "scripts/up.sh" in line and "scripts/test.sh" not in line]
