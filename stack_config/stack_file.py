"""A stack file read the way the Pulumi CLI hands its config to the program, without the CLI.

The CLI passes namespaced keys, objects and lists as JSON text and other values as text, with
`secure:` values decrypted. Offline nothing can be decrypted: a `secure:` value at a secret key
(primaryPassword, a privateKey) stands in as present-and-well-formed; one anywhere else is
unreadable (not judged, and rules reading it wait for preview). What only the file shows is
checked here: `secure:` values that are no ciphertext (Pulumi.example.yaml's placeholders), and
secrets written in plain text. No value found here is ever shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import NAMESPACE, Problem
from .validation import PASSWORD_KEY, is_secret_path, set_secret_command

# What offline validation sees for a secret it cannot decrypt: the shape the rules require.
PASSWORD_STAND_IN = "secure-value-not-decrypted-offline"
# The PEM shape a privateKey must have, around a sentence: nothing here is key material (and
# secret scanners see no PEM block in the source).
_PEM_LABEL = "PRIVATE KEY"
PRIVATE_KEY_STAND_IN = (
    f"-----BEGIN {_PEM_LABEL}-----\nsecure value, not decrypted offline\n-----END {_PEM_LABEL}-----\n"
)
UNREADABLE_STAND_IN = "secure-value-not-decrypted-offline"

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_PLACEHOLDER_WORDS = re.compile(r"REPLACE-?ME|PLACEHOLDER|CHANGE-?ME", re.I)
# AES-256-GCM, which Pulumi's secrets managers use: a 12-byte nonce and a 16-byte tag around the text.
NONCE_BYTES = 12
TAG_BYTES = 16


class StackFileError(Exception):
    """The file cannot be read as a stack file at all (not YAML, or not a mapping)."""


@dataclass
class StackFileConfig:
    """A stack file read as the CLI would hand it over (`bag`), with the paths that cannot be read
    offline, and the problems and warnings only the file shows; the offline check validates it."""

    bag: dict[str, str] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _decoded_length(text: str) -> int:
    """Bytes that standard, padded base64 `text` decodes to; -1 when it is not such base64."""
    if not _BASE64.match(text) or len(text) % 4:
        return -1
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return -1


def is_ciphertext(value: Any) -> bool:
    """The shapes Pulumi's secrets managers write: v1:<base64 nonce>:<base64 ciphertext>
    (passphrase, awskms, azurekeyvault, gcpkms, hashivault) or one base64 string (Pulumi Cloud)."""
    if not isinstance(value, str) or _PLACEHOLDER_WORDS.search(value):
        return False
    parts = value.split(":")
    if len(parts) == 3 and parts[0] == "v1":
        return _decoded_length(parts[1]) == NONCE_BYTES and _decoded_length(parts[2]) >= TAG_BYTES
    # Shorter than a nonce and a tag: a word or password typed under `secure:`, not ciphertext.
    return len(parts) == 1 and _decoded_length(value) >= NONCE_BYTES + TAG_BYTES


# `pulumi config set --secret` works only once the stack exists in the backend up.sh uses, with the
# passphrase that encrypts it: README's Quick start step 3 sets both first.
_WHERE = "once the stack exists in the backend scripts/up.sh prints (README, Quick start step 3)"


def _set_secret_command(path: str) -> str:
    return f"{set_secret_command(path)}, {_WHERE}"


class _Reader:
    def __init__(self, file_name: str, out: StackFileConfig):
        self.file_name, self.out = file_name, out

    def value(self, value: Any, path: str, namespaced: bool) -> Any:
        """`value` with each `secure:` replaced by its stand-in; problems and unreadable paths noted."""
        if isinstance(value, dict) and set(value) == {"secure"}:
            return self._secure(value["secure"], path, namespaced)
        if isinstance(value, dict):
            return {k: self.value(v, f"{path}.{k}", namespaced) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, f"{path}[{i}]", namespaced) for i, v in enumerate(value)]
        if namespaced and is_secret_path(path) and isinstance(value, str):
            self.out.problems.append(
                Problem(
                    path,
                    f"is written in plain text in {self.file_name} (the value is not "
                    "shown): anyone who can read the file, or the repository, has it; "
                    f"remove it and set it as a secret: {_set_secret_command(path)}",
                )
            )
        return value

    def _secure(self, ciphertext: Any, path: str, namespaced: bool) -> str:
        if not is_ciphertext(ciphertext):
            # Never shown: a `secure:` that is no ciphertext may be the secret itself, pasted by hand.
            self.out.problems.append(
                Problem(
                    path,
                    "is a placeholder, not a secret the Pulumi CLI encrypted (its "
                    "`secure:` holds no ciphertext; the value is not shown): set it "
                    f"with {_set_secret_command(path)}",
                )
            )
        if namespaced and path == PASSWORD_KEY:
            return PASSWORD_STAND_IN
        if namespaced and is_secret_path(path):
            return PRIVATE_KEY_STAND_IN
        self.out.unreadable.add(path)
        if namespaced and not path.endswith("privateKey"):
            self.out.warnings.append(
                f"{path}: a secure value is checked at preview only (it cannot be decrypted "
                "offline), and so are the rules that read it"
            )
        return UNREADABLE_STAND_IN


def _as_text(value: Any) -> str:
    """A top-level value as the CLI hands it over: text as is, the rest as JSON (true, 7999, {...})."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def read_stack_file(path: Path) -> StackFileConfig:
    try:
        document = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        # Only the reason and the position: PyYAML's own text quotes the line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "it does not parse"
        raise StackFileError(f"{path} is not valid YAML{where}: {reason}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackFileError(
            f"{path} is not a stack file: expected a top-level 'config:' mapping of keys (see Pulumi.example.yaml)"
        )
    out = StackFileConfig()
    reader = _Reader(Path(path).name, out)
    for key, value in (document.get("config") or {}).items():
        full_key = str(key) if ":" in str(key) else f"{NAMESPACE}:{key}"
        namespace, _, name = full_key.partition(":")
        namespaced = namespace == NAMESPACE
        # Paths are named as in messages: without this project's namespace, with another's.
        plain = reader.value(value, name if namespaced else full_key, namespaced)
        out.bag[full_key] = _as_text(plain)
    return out
