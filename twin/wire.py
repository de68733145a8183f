"""Pulumi's wire form of a secret: the signature that marks a value secret, and the value with every
wrapper removed (what a provider receives in the clear)."""

from __future__ import annotations

from typing import Any

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's wire signature of a secret value
SECRET_KEY = "4dabf18193072939515e22adb298388d"


def revealed(value: Any) -> Any:
    """`value` with every secret wrapper removed, at any depth."""
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return revealed(value.get("value"))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value
