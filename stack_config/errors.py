"""One readable error for everything wrong with a stack config.

Each problem names its key path the way a user writes it with `pulumi config set --path`
(`mirrors[1].tls.hostedZoneId`), the bad value where it is not secret, and what is expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pydantic import BaseModel

from facts.config import NAMESPACE


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config: the key path a user fixes and a message saying what was
    expected. Its words reach the user as they are (preview, the offline check); a change to `path`
    changes which key `pulumi config set --path` is told to set."""

    path: str  # as `pulumi config set --path` takes it; another namespace's key keeps its own (aws:region)
    message: str

    @property
    def key(self) -> str:
        """The full config key: bitbucket-mirrors:mirrors[1].tls.hostedZoneId, aws:region."""
        head = self.path.split(".", 1)[0].split("[", 1)[0]
        return self.path if ":" in head else f"{NAMESPACE}:{self.path}"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def problems_text(problems: Sequence[Problem]) -> str:
    """What `pulumi preview` and the offline check both print for these problems (loader.ConfigError)."""
    lines = "\n".join(f"  - {p.key}: {p.message}" for p in problems)
    count = len(problems)
    return f"the stack config has {count} problem{'s' if count != 1 else ''}; nothing was created:\n{lines}"


def key_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = inner_model(arg)
        if found is not None:
            return found
    return None
