"""pydantic's validation errors in the stack file's words: what is wrong, the value given (unless it
is or may be secret), and what to write instead, with an example of the key.

pydantic says "Input should be a valid string"; a user wrote `bitbucketVersion: 9.4` and needs to
read "quote it, e.g. bitbucketVersion: "9.4.16"". Every error type the models can raise has its
sentence here; an unexpected one still names the key and the value.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .errors import Problem, inner_model, key_path
from .shown import kind_of, looks_like_key_material, shown, yaml_value

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$-]{0,63}$")


@dataclass(frozen=True)
class FieldAt:
    """The model field an error is about (`element`: about one item of that list field)."""

    field: FieldInfo
    key: str
    element: bool

    @property
    def secret(self) -> bool:
        return _holds(self.field.annotation, SecretStr)

    @property
    def model(self) -> Optional[type[BaseModel]]:
        return inner_model(self.field.annotation)

    @property
    def is_list(self) -> bool:
        return typing.get_origin(_unwrap(self.field.annotation)) is tuple

    def example(self) -> Optional[str]:
        """`key: value` as the stack file would have it, or None when the field has no example."""
        value = self.field.examples[0] if self.field.examples else self.field.default
        if value is None or value is PydanticUndefined or value == () or isinstance(value, BaseModel):
            return None
        return f"{self.key}: {yaml_value(value)}"

    def element_example(self) -> Optional[str]:
        if self.field.examples and isinstance(self.field.examples[0], (list, tuple)) and self.field.examples[0]:
            return yaml_value(self.field.examples[0][0])
        return None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) in (typing.Annotated, typing.Union, Optional):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return annotation


def _holds(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_holds(a, kind) for a in typing.get_args(annotation))


def field_at(root: type[BaseModel], loc: Sequence[Any]) -> Optional[FieldAt]:
    current: Optional[type[BaseModel]] = root
    found: Optional[FieldAt] = None
    for part in loc:
        if isinstance(part, int):
            if found is not None:
                found = FieldAt(found.field, found.key, element=True)
            continue
        if current is None:
            return None
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        field = fields.get(str(part))
        if field is None:
            return None
        found = FieldAt(field, str(part), element=False)
        current = inner_model(field.annotation)
    return found


def _known_keys(model: Optional[type[BaseModel]]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()] if model else []


def _required_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items() if f.is_required()]


def _got(value: Any, secret: bool) -> str:
    if secret:
        return f", got {kind_of(value)} (the value is not shown)"
    return f", got {shown(value)}"


def _eg(at: Optional[FieldAt]) -> str:
    example = at.example() if at else None
    return f" (e.g. {example})" if example else ""


def _secret_hint(path: str) -> str:
    return f"; set it from the key file: pulumi config set --path --secret '{path}' < key.pem"


def _message(item: dict, at: Optional[FieldAt], path: str) -> str:
    kind = item["type"]
    value = item.get("input")
    ctx = item.get("ctx") or {}
    secret = bool(at and at.secret and not at.element)
    got = _got(value, secret)
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", item["msg"]))
        return text + (_secret_hint(path) if secret else "")
    if kind in ("string_type", "string_sub_type", "string_unicode"):
        if secret:
            return f"expected the PEM private key as text{got}{_secret_hint(path)}"
        if at and at.element:
            example = at.element_example()
            return f"expected text{got}; quote each entry" + (f", e.g. [{example}]" if example else "")
        if isinstance(value, (bool, int, float)):
            example = at.example() if at else None
            return f"expected text{got}; quote it" + (f", e.g. {example}" if example else "")
        if value is None:
            optional = "" if at is None or at.field.is_required() else " or leave the key out"
            return f"expected text, got null (no value); give a value{_eg(at)}{optional}"
        return f"expected one text value{got}{_eg(at)}"
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"expected a whole number{got}{_eg(at)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false{got}{_eg(at)}"
    if kind in ("tuple_type", "list_type", "set_type", "iterable_type"):
        return _list_message(value, at, got)
    if kind in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return _object_message(value, at, got)
    if kind == "literal_error":
        expected = ctx.get("expected", "one of the listed values")
        options = re.findall(r"'([^']*)'", expected)
        close = (
            difflib.get_close_matches(str(value).lower(), options, n=1, cutoff=0.5) if isinstance(value, str) else []
        )
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"expected {expected}{got}{hint}"
    bounds = {
        "greater_than_equal": ("greater than or equal to", "ge"),
        "less_than_equal": ("less than or equal to", "le"),
        "greater_than": ("greater than", "gt"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, name = bounds[kind]
        return f"expected a number {words} {ctx.get(name)}{got}{_eg(at)}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return f"expected at least {n} character{'s' if n != 1 else ''}, got an empty value{_eg(at)}"
    if kind == "string_too_long":
        return (
            f"expected at most {ctx.get('max_length')} characters, got {len(value) if isinstance(value, str) else '?'}"
        )
    if kind == "missing":
        return _missing_message(at)
    # Not raised by these models today; still say the key, pydantic's reason and the value.
    reason = item["msg"][:1].lower() + item["msg"][1:]
    return f"{reason}{got}{_eg(at)}"


def _list_message(value: Any, at: Optional[FieldAt], got: str) -> str:
    model = at.model if at else None
    if model is not None:
        entry = _required_keys(model)
        first = entry[0] if entry else "name"
        if isinstance(value, dict):
            names = [k for k in value if isinstance(k, str) and _PLAIN_KEY.match(k)][:5]
            listed = f" ({', '.join(names)})" if names else ""
            return (
                f"expected a list, one entry per item, each starting with '- ' (e.g. '- {first}: ...' with "
                f"{', '.join(entry[1:]) or 'its other keys'} indented under it), got a map of keys{listed}: "
                f"write each as a list entry and put its key in {first}:"
            )
        return f"expected a list of entries, each starting with '- {first}: ...'{got}"
    example = at.element_example() if at else None
    if isinstance(value, str) and example:
        suggestion = yaml_value([value]) if not looks_like_key_material(value) and len(value) < 60 else f"[{example}]"
        return f"expected a list{got}; write even one value as a list: {at.key}: {suggestion}"
    return f"expected a list{got}{_eg(at)}"


def _object_message(value: Any, at: Optional[FieldAt], got: str) -> str:
    model = at.model if at else None
    keys = ", ".join(_known_keys(model)[:6]) + (", ..." if len(_known_keys(model)) > 6 else "")
    where = (
        f"an entry of {at.key} with the keys"
        if at and at.element
        else (f"the keys indented under {at.key}:" if at else "the keys")
    )
    return f"expected an object, {where} {keys}{got}; see Pulumi.example.yaml for its shape"


def _missing_message(at: Optional[FieldAt]) -> str:
    model = at.model if at else None
    if model is not None:
        needs = _required_keys(model)
        under = f" with {' and '.join(needs)} under it" if needs and not at.is_list else ""  # type: ignore[union-attr]
        if at and at.is_list:
            return f"is required but missing: add at least one entry ('- {needs[0]}: ...'); see Pulumi.example.yaml"
        return f"is required but missing: add {at.key}:{under}; see Pulumi.example.yaml"  # type: ignore[union-attr]
    example = at.example() if at else None
    return f"is required but missing: add it, e.g. {example}" if example else "is required but missing: add it"


def _unknown_key_problem(item: dict, root: type[BaseModel], loc: list, extra_known: Sequence[str]) -> Problem:
    parent_loc, key = item["loc"][:-1], str(item["loc"][-1])
    owner = field_at(root, parent_loc).model if parent_loc else root  # type: ignore[union-attr]
    known = _known_keys(owner) + (list(extra_known) if not parent_loc else [])
    if not _PLAIN_KEY.match(key):
        # A key that is not a name is pasted text (a key block indented one level too far, say): never shown.
        return Problem(
            key_path(loc[:-1]) or "config",
            f"has an unknown key of {len(key)} characters (not shown: it is not a key name; text indented "
            f"one level too far?); known keys here: {', '.join(sorted(known))}",
        )
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(sorted(known))}"
    return Problem(key_path(loc), f"unknown key; {hint}")


def suggested_key(item: dict, root: type[BaseModel]) -> Optional[tuple[Any, ...]]:
    """For an unknown key, the loc of the known key it is a typo of (`hostedZoneID` -> `hostedZoneId`)."""
    parent_loc, key = item["loc"][:-1], str(item["loc"][-1])
    at = field_at(root, parent_loc) if parent_loc else None
    owner = at.model if at else (root if not parent_loc else None)
    close = difflib.get_close_matches(key, _known_keys(owner), n=1, cutoff=0.6)
    return (*parent_loc, close[0]) if close else None


def problems_from_validation(
    error: ValidationError, root: type[BaseModel], prefix: Sequence[Any] = (), extra_known: Sequence[str] = ()
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = list(prefix) + list(item["loc"])
        if item["type"] == "extra_forbidden":
            problems.append(_unknown_key_problem(item, root, loc, extra_known))
            continue
        path = key_path(loc)
        problems.append(Problem(path, _message(item, field_at(root, item["loc"]), path)))
    return problems
