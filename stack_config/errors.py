"""One readable error for everything wrong with a stack config.

Each problem names its key path the way a user writes it with `pulumi config set --path`
(`mirrors[1].tls.hostedZoneId`), the bad value where it is not secret, and what is expected.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import pulumi
from pydantic import BaseModel, ValidationError

NAMESPACE = "bitbucket-mirrors"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; `pulumi preview` shows it without a traceback."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {NAMESPACE}:{p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"the stack config has {count} problem{'s' if count != 1 else ''}; nothing was created:\n{lines}")


def key_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The model class that owns the last element of `loc` (to suggest its keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        current = inner_model(field.annotation)
        if current is None:
            return None
    return current


def inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = inner_model(arg)
        if found is not None:
            return found
    return None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


_SECRET_FIELDS = {"privateKey"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation(error: ValidationError, root: type[BaseModel], prefix: Sequence[Any] = (),
                             extra_known: Sequence[str] = ()) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = list(prefix) + list(item["loc"])
        path = key_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            owner = _model_at(root, item["loc"][:-1])
            known = _known_keys(owner) if owner else []
            if not item["loc"][:-1]:
                known += list(extra_known)
            close = difflib.get_close_matches(str(item["loc"][-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(sorted(known))}"
            problems.append(Problem(path, f"unknown key; {hint}"))
        elif kind == "missing":
            problems.append(Problem(path, "is required but missing"))
        elif kind == "value_error":
            problems.append(Problem(path, str(item["ctx"]["error"])))
        else:
            message = item["msg"]
            last = str(item["loc"][-1]) if item["loc"] else ""
            if "input" in item and last not in _SECRET_FIELDS and not isinstance(item["input"], (dict, list)):
                message += f", got {_shown(item['input'])}"
            problems.append(Problem(path, message))
    return problems
