"""The AWS regions a stack may name, as the pinned botocore lists them (facts/aws_regions.json).

A copy, not an import: the offline check runs without botocore (requirements-check.txt), and
tests/stack_config/test_known_regions.py fails when the pinned botocore's list differs from it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

_DATA = Path(__file__).with_name("aws_regions.json")


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(_DATA.read_text())


def known_regions() -> frozenset[str]:
    return frozenset(_data()["regions"])


def botocore_version() -> str:
    """The botocore release the list was copied from."""
    return _data()["botocore"]
