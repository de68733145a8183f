"""A model of what did validate, so cross-field rules can run when some fields did not.

pydantic builds nothing when one field fails; the cross-field rules then had nothing to look at and
a file with 13 mistakes reported 8, and 9 more only after those were fixed. Here each field is
validated on its own, with the same annotation, constraints and model config pydantic uses, and
the model is put together with `model_construct`: fields that failed hold their default (or None)
and are listed in `failed`, so the rules skip exactly the keys that failed. The problems themselves
still come from validating the whole model; this only decides what the rules can read.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, Optional

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .errors import inner_model, key_path

Loc = tuple[Any, ...]


def salvage(model: type[BaseModel], raw: Any, failed: set[str], loc: Loc = ()) -> Optional[BaseModel]:
    """`model` from `raw`, each field that fails replaced and its key path added to `failed`;
    None (and the path failed) when `raw` is not an object at all."""
    if not isinstance(raw, dict):
        failed.add(key_path(loc))
        return None
    values: dict[str, Any] = {}
    given: set[str] = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        here = (*loc, key)
        if key not in raw:
            if field.is_required():
                failed.add(key_path(here))
                values[name] = None
            continue
        given.add(name)
        values[name] = _field_value(model, name, field, raw[key], failed, here)
    return model.model_construct(_fields_set=given, **values)


def _field_value(model: type[BaseModel], name: str, field: FieldInfo, value: Any, failed: set[str], here: Loc) -> Any:
    inner = inner_model(field.annotation)
    if inner is not None:
        if value is None and _allows_none(field.annotation):
            return None
        if _is_tuple(field.annotation):
            if isinstance(value, list):
                # A failed entry stays in place as None: later entries keep their index in messages.
                return tuple(salvage(inner, item, failed, (*here, i)) for i, item in enumerate(value))
        elif isinstance(value, dict):
            return salvage(inner, value, failed, here)
        failed.add(key_path(here))
        return _fallback(field)
    try:
        return _adapter(model, name).validate_python(value)
    except ValidationError:
        failed.add(key_path(here))
        return _fallback(field)


def _fallback(field: FieldInfo) -> Any:
    return None if field.is_required() else field.get_default(call_default_factory=True)


def _allows_none(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Union and type(None) in typing.get_args(annotation)


def _is_tuple(annotation: Any) -> bool:
    while typing.get_origin(annotation) in (typing.Annotated, typing.Union):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return typing.get_origin(annotation) is tuple


@functools.lru_cache(maxsize=None)
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    field = model.model_fields[name]
    config = {k: v for k, v in model.model_config.items() if k in ("str_strip_whitespace", "hide_input_in_errors")}
    annotation = typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(annotation, config=config)  # type: ignore[arg-type]
