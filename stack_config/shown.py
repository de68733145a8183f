"""How a rejected value may appear in a message: short, on one line, and never a secret.

Preview output and CI logs keep every message, so a value is shown only in a form that cannot carry
a secret: key material is never shown wherever it was pasted, a URL loses its user info, query and
fragment (where tokens live), and control characters are escaped instead of breaking the line.
`Redactor` is the last line of defence: it masks the stack's own secret values in any message.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from facts.urls import redact

MAX_SHOWN = 80

# PEM private keys of every kind, PuTTY key files, and the base64 of OpenSSH's "openssh-key-v1"
# (an OpenSSH private key body pasted without its armour).
_KEY_MATERIAL = re.compile(r"PRIVATE KEY|PuTTY-User-Key-File|b3BlbnNzaC1rZXktdjE")


def looks_like_key_material(text: str) -> bool:
    return bool(_KEY_MATERIAL.search(text))


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def kind_of(value: Any) -> str:
    """The YAML kind of a value, in the words of the stack file."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "an object (a map of keys)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null (no value)"
    return type(value).__name__


def shown(value: Any) -> str:
    """A value as a message shows it: quoted text, YAML's true/false/null, or only its kind."""
    if isinstance(value, str):
        if looks_like_key_material(value):
            return "a private key (not shown)"
        return _short(repr(value))  # repr escapes control characters: one line, always
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _short(repr(value))
    # Objects and lists are described, not printed: they may hold anything.
    return kind_of(value)


def shown_url(text: str) -> str:
    """A URL as a message shows it: scheme, host, port and path, never user info, query or fragment
    (facts.urls.redact, marking what it left out), quoted on one line."""
    if looks_like_key_material(text):
        return "a private key (not shown)"
    return _short(repr(redact(text, marks=True)))


def yaml_value(value: Any) -> str:
    """A value written as it would appear in the stack file (JSON is YAML; strings quoted)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class Redactor:
    """Masks the stack's secret values (and long runs of them) wherever a message would show them.

    Rules never show secret keys' values; this catches a secret pasted into another key, where the
    rule that refuses it cannot know it is one. Secrets shorter than MIN_SECRET are left alone:
    masking every "a" or "pw" would garble messages and protects nothing.
    """

    MIN_SECRET = 4
    RUN = 12  # a run of this many characters of a long secret is masked too
    MASK = "<secret, not shown>"

    def __init__(self, secrets: Iterable[str]):
        pieces: set[str] = set()
        for secret in secrets:
            for piece in _secret_pieces(secret):
                if len(piece) >= self.MIN_SECRET:
                    pieces.add(piece)
        self._secrets = sorted(pieces, key=len, reverse=True)

    def __call__(self, text: str, runs: bool = True) -> str:
        """`text` with every secret masked; runs=False masks only whole secrets (for key paths,
        which are made of key names and would be garbled by partial matches)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, self.MASK)
            elif runs and len(secret) > self.RUN:
                text = self._mask_runs(text, secret)
        return text

    def _mask_runs(self, text: str, secret: str) -> str:
        hidden = [False] * len(text)
        for i in range(len(text) - self.RUN + 1):
            if text[i : i + self.RUN] in secret:
                hidden[i : i + self.RUN] = [True] * self.RUN
        if not any(hidden):
            return text
        out, i = [], 0
        while i < len(text):
            if hidden[i]:
                while i < len(text) and hidden[i]:
                    i += 1
                out.append(self.MASK)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def _secret_pieces(secret: str) -> list[str]:
    """The parts of a secret worth masking: a PEM body without its armour lines (which messages
    quote as instructions), else the whole value."""
    lines = [line.strip() for line in secret.strip().splitlines()]
    if len(lines) > 1 and any(line.startswith("-----BEGIN") for line in lines):
        return [line for line in lines if line and not line.startswith("-----")]
    return [secret.strip()]
