"""The README's config reference table, generated from the model (run as a module to print it)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from .errors import NAMESPACE, inner_model
from .model import StackModel
from .validation import PASSWORD_KEY

BEGIN = "<!-- config-reference:begin (generated: `venv/bin/python -m stack_config.readme_sync`) -->"
END = "<!-- config-reference:end -->"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin is typing.Union:
        return _type_name(next(a for a in args if a is not type(None)))
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if annotation is SecretStr:
        return "string (secret)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", int: "integer", bool: "boolean"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    if value == ():
        return "[]"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`"


def rows(model: type[BaseModel] = StackModel, prefix: str = "") -> list[tuple[str, str, str, str]]:
    found = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        inner = inner_model(field.annotation)
        is_list = typing.get_origin(_unwrap(field.annotation)) is tuple
        found.append((key, _type_name(field.annotation), _default(field), field.description or ""))
        if inner is not None:
            found += rows(inner, f"{key}[]." if is_list else f"{key}.")
    return found


def table() -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    password = (
        "primaryPassword",
        "string (secret)",
        "**required**",
        "Password of primary.username; set with `pulumi config set --secret primaryPassword`.",
    )
    all_rows = rows()
    all_rows.insert(next(i for i, r in enumerate(all_rows) if not r[0].startswith("primary")), password)
    for key, type_, default, meaning in all_rows:
        lines.append(f"| `{NAMESPACE}:{key}` | {type_} | {default} | {meaning} |")
    assert PASSWORD_KEY == "primaryPassword"
    return "\n".join(lines)


if __name__ == "__main__":
    print(BEGIN)
    print(table())
    print(END)
