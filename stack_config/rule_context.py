"""What every cross-field rule reads: the stack (perhaps salvaged), the stack's aws:region, and the
key paths that failed their own validation, so a rule can skip what it cannot judge.

A change here changes which rules run when a file has other problems: a rule is skipped only when a
key it reads (`Context.usable`) is, contains or lies inside a failed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from .model import Mirror, StackModel


def related(a: str, b: str) -> bool:
    """Whether one key path is the other or contains it (mirrors[0].tls and mirrors[0].tls.mode)."""
    short, long = sorted((a, b), key=len)
    return long == short or long.startswith(short + ".") or long.startswith(short + "[")


@dataclass(frozen=True)
class Context:
    """What a cross-field rule reads: the stack (perhaps salvaged), aws:region, and the key paths
    that failed; a change to `usable` changes which rules run beside other problems."""

    stack: StackModel
    aws_region: Optional[str]
    failed: frozenset[str] = frozenset()  # key paths whose values did not validate (or were not readable)

    def usable(self, *paths: str) -> bool:
        return not any(related(path, bad) for path in paths for bad in self.failed)

    def mirrors(self) -> Iterable[tuple[int, Mirror]]:
        return ((i, m) for i, m in enumerate(self.stack.mirrors or ()) if m is not None)

    def label(self, i: int, mirror: Mirror) -> str:
        return f"mirrors[{i}] ({mirror.name})" if self.usable(f"mirrors[{i}].name") else f"mirrors[{i}]"

    def region_of(self, i: int, mirror: Mirror) -> tuple[bool, Optional[str]]:
        """(known, region): whether the site's region can be read, and which it is (None: none set)."""
        if mirror.region is not None or not self.usable(f"mirrors[{i}].region"):
            return self.usable(f"mirrors[{i}].region"), mirror.region
        return self.usable("aws:region"), self.aws_region
