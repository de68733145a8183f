"""Every rule, run on a config bag: the keys and raw values the Pulumi CLI hands the program.

Both the program (`loader.load_stack_config`, from the runtime's bag) and the offline check
(`check`, from a stack file) come through here, so they report the same problems in the same words.
Field rules and cross-field rules run in one pass: a cross-field rule skips only keys that failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable, Mapping, Optional

from pydantic import ValidationError

from .constrained import SSH_PUBLIC_KEY, basic_auth_can_carry
from .errors import NAMESPACE, Problem, key_path
from .model import StackModel
from .regions import closest_region, unknown_region_problem
from .rule_context import related
from .rules import stack_problems
from .salvage import salvage
from .shown import Redactor, looks_like_key_material
from .type_errors import problems_from_validation, suggested_key

PASSWORD_KEY = "primaryPassword"
AWS_REGION_KEY = "aws:region"
OBJECT_KEYS = ("primary", "network", "monitoring", "backup", "kmsKeyArn", "iamPermissionsBoundaryArn", "mirrors")
SET_PASSWORD = f"pulumi config set --secret {PASSWORD_KEY}"


@dataclass(frozen=True)
class Checked:
    """The outcome of every rule on a config bag: the model (None whenever there is a problem), all
    problems in one pass, and the aws:region the rules used; the program and the offline check read it."""

    model: Optional[StackModel]  # None whenever there is a problem
    problems: tuple[Problem, ...]
    aws_region: Optional[str]


def is_secret_path(path: str) -> bool:
    """The keys that hold secrets: primaryPassword and every privateKey (bastion, nginx TLS)."""
    last = path.rsplit(".", 1)[-1]
    return path == PASSWORD_KEY or last.split("[", 1)[0] == "privateKey"


def set_secret_command(path: str) -> str:
    """The command that sets the value at `path` as a Pulumi secret."""
    if path == PASSWORD_KEY:
        return SET_PASSWORD
    if path.endswith("privateKey"):
        return f"pulumi config set --path --secret '{path}' < key.pem"
    return f"pulumi config set --path --secret '{path}' <value>"


def _secret_paths(value: Any, path: str) -> Iterable[str]:
    """The secret keys (is_secret_path) that hold a value in this raw config."""
    if is_secret_path(path) and value not in (None, "", {}, []):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _secret_paths(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secret_paths(v, f"{path}[{i}]")


def _plain_text_secret_problems(raw: Mapping[str, Any], password: Optional[str], secret_keys: Collection[str]):
    """A secret key whose value the CLI did not hand over as a secret: it sits in plain text in the
    stack file (or the environment). The CLI marks a top-level key secret as a whole when any value
    in it is, so below the top level a plain value next to a secret one cannot be told apart."""
    plain = []
    if password and f"{NAMESPACE}:{PASSWORD_KEY}" not in secret_keys:
        plain.append(PASSWORD_KEY)
    for top, value in raw.items():
        if f"{NAMESPACE}:{top}" not in secret_keys:
            plain += _secret_paths(value, top)
    return [
        Problem(
            path,
            "is not a secret: it is written in plain text in the stack's config (the value is not shown), and "
            f"anyone who can read the file or the repository has it; remove it and set it as a secret: "
            f"{set_secret_command(path)}",
        )
        for path in plain
    ]


def _password_problem(password: Optional[str]) -> Optional[Problem]:
    if password is None:
        return Problem(
            PASSWORD_KEY,
            f"is required: the password of primary.username, set it as a secret: {SET_PASSWORD} <password>",
        )
    if password == "":
        return Problem(PASSWORD_KEY, f"is empty: set the password of primary.username as a secret: {SET_PASSWORD}")
    try:
        structured = isinstance(json.loads(password), (dict, list))
    except ValueError:
        structured = False
    if structured:
        # The CLI hands an object or list (set with --path below the key) over as JSON text.
        return Problem(
            PASSWORD_KEY,
            "is an object or a list, not one text value (the value is not shown): remove "
            f"it and set the password as one secret: {SET_PASSWORD}",
        )
    if not basic_auth_can_carry(password):
        return Problem(
            PASSWORD_KEY,
            "has characters HTTP basic authentication cannot carry (the providers "
            "send it as Latin-1): use a password of Latin-1 characters",
        )
    return None


def _raw_config(bag: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    for full_key, text in bag.items():
        if not full_key.startswith(prefix) or full_key == prefix + PASSWORD_KEY:
            continue
        key = full_key[len(prefix) :]
        if key in OBJECT_KEYS:
            try:
                raw[key] = json.loads(text)
            except (TypeError, ValueError):
                raw[key] = text  # not an object: the model says what it should be
        else:
            raw[key] = text  # validation reports it as unknown, with a suggestion
    return raw


def _failed_paths(error: ValidationError) -> set[str]:
    failed = set()
    for item in error.errors(include_url=False):
        failed.add(key_path(item["loc"]))
        if item["type"] == "extra_forbidden":
            # `hostedZoneID` was meant as `hostedZoneId`: rules reading the meant key wait for the fix.
            meant = suggested_key(item, StackModel)
            if meant is not None:
                failed.add(key_path(meant))
    return failed


def _secrets_in(value: Any, path: str, inside_secret: bool = False) -> Iterable[str]:
    secret = inside_secret or is_secret_path(path)
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _secrets_in(v, f"{path}.{k}" if path else str(k), secret)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secrets_in(v, f"{path}[{i}]", secret)
    elif isinstance(value, str) and (secret or looks_like_key_material(value)) and not _public(value):
        yield value


def _public(text: str) -> bool:
    """A public key or certificate pasted at a secret key (keys swapped): masking it would only
    garble the messages that name its right place."""
    text = text.strip()
    return bool(SSH_PUBLIC_KEY.match(text)) or (
        text.startswith("-----BEGIN CERTIFICATE-----") and not looks_like_key_material(text)
    )


def check_config_bag(
    bag: Mapping[str, str],
    warn: Callable[[str], None],
    unreadable: Iterable[str] = (),
    secret_keys: Optional[Collection[str]] = None,
) -> Checked:
    """All problems of this config bag. `unreadable`: key paths whose values are not known (a
    stack file's `secure:` values, offline): not judged, and rules reading them are skipped.
    `secret_keys`: the full keys the CLI handed over as secrets (at preview; None offline, where the
    stack file itself shows which values are plain text)."""
    unreadable = frozenset(unreadable)
    raw = _raw_config(bag)
    password = bag.get(f"{NAMESPACE}:{PASSWORD_KEY}")
    redact = Redactor([*_secrets_in(raw, ""), *([password] if password else [])])
    problems: list[Problem] = []
    password_problem = _password_problem(password)
    if password_problem:
        problems.append(password_problem)
    if secret_keys is not None:
        problems += _plain_text_secret_problems(raw, password, secret_keys)

    failed: set[str] = set(unreadable)
    model: Optional[StackModel] = None
    try:
        model = StackModel.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from_validation(exc, StackModel, extra_known=[PASSWORD_KEY])
        failed |= _failed_paths(exc)
    aws_region = bag.get(AWS_REGION_KEY) or None
    if aws_region is not None:
        region_problem = unknown_region_problem(aws_region)
        if region_problem:
            fix = closest_region(aws_region) or "<region>"
            problems.append(
                Problem(AWS_REGION_KEY, f"{region_problem} Set it with: pulumi config set aws:region {fix}")
            )
            failed.add(AWS_REGION_KEY)
            aws_region = None
    readable = model if model is not None else salvage(StackModel, raw, failed)
    if readable is not None:
        problems += stack_problems(readable, lambda text: warn(redact(text)), aws_region, failed)  # type: ignore[arg-type]
    problems = [p for p in problems if not any(related(p.path, u) for u in unreadable)]
    # A stack-wide key that is wrong for several sites is one problem.
    shown = list(dict.fromkeys(Problem(redact(p.path, runs=False), redact(p.message)) for p in problems))
    return Checked(model if not shown else None, tuple(shown), aws_region)
