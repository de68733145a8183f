"""Typed, validated stack config (README "Config reference"): the only package that reads `pulumi.Config`.

The package imports no Pulumi or AWS package until a name that needs one is asked for: the offline
check (`python -m stack_config.check`) runs with requirements-check.txt alone.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the module that defines it, imported on first use (PEP 562).
_EXPORTS = {
    "ConfigError": "loader",
    "StackConfig": "loader",
    "load_stack_config": "loader",
    "secret_output": "loader",
    "Problem": "errors",
    "Bastion": "model",
    "Installer": "model",
    "Mirror": "model",
    "Monitoring": "model",
    "Network": "model",
    "Primary": "model",
    "Tls": "model",
    "Site": "sites",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
