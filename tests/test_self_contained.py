"""The repository stands alone: a clone with nothing beside it has everything its tests and its
readers need (CI also runs the whole suite from such a clone: .ci/run)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "spec" / "bitbucket-dc-9.2-subset.json"
# Paths and names that exist only on the machines this project is developed on.
OUTSIDE = re.compile(r"\.\./shared|BITBUCKET-FACTS|DESIGN(\.md| ?§)|/work/(main|shared)")


def _extractor():
    spec = importlib.util.spec_from_file_location(
        "extract_openapi_subset", ROOT / "scripts" / "extract_openapi_subset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [f for f in listed.stdout.splitlines() if (ROOT / f).is_file()]


def test_no_tracked_file_refers_outside_the_repository():
    hits = []
    for name in tracked_files():
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue
        hits += [f"{name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    # This file names the patterns it looks for; nothing else may.
    assert [h for h in hits if not h.startswith("tests/test_self_contained.py")] == []


def test_every_reference_in_the_openapi_subset_resolves_inside_it():
    document = json.loads(SUBSET.read_text())
    for ref in set(_refs(document)):
        assert ref.startswith("#/components/"), ref
        _, _, kind, name = ref.split("/", 3)
        assert name in document["components"].get(kind, {}), f"{ref} is referenced but not in the subset"


def test_the_subset_is_exactly_what_the_extraction_script_keeps():
    # Re-extracting from the subset itself changes nothing: every kept path passes the script's
    # filter and every schema is reachable from one of them (none missing, none stale).
    document = json.loads(SUBSET.read_text())
    assert _extractor().subset(document) == document


def test_the_subset_holds_every_operation_the_providers_call():
    paths = json.loads(SUBSET.read_text())["paths"]
    called = {
        ("get", "/mirroring/latest/requests"),
        ("post", "/mirroring/latest/requests/{mirroringRequestId}/accept"),
        ("get", "/mirroring/latest/mirrorServers"),
        ("get", "/mirroring/latest/mirrorServers/{mirrorId}"),
        ("delete", "/mirroring/latest/mirrorServers/{mirrorId}"),
        ("get", "/mirroring/latest/syncSettings"),
        ("put", "/mirroring/latest/syncSettings/mode"),
        ("post", "/mirroring/latest/syncSettings/projects"),
        ("delete", "/mirroring/latest/syncSettings/projects/{projectId}"),
        ("get", "/mirroring/latest/progress"),
        ("get", "/api/latest/projects"),
        ("get", "/api/latest/application-properties"),
        ("get", "/ssh/latest/settings"),
        ("get", "/api/latest/admin/license"),
        ("get", "/mirroring/latest/farmNodes"),
        ("post", "/mirroring/latest/zdu/start"),
        ("post", "/mirroring/latest/zdu/end"),
    }
    missing = {(m, p) for m, p in called if m not in paths.get(p, {})}
    assert missing == set()
