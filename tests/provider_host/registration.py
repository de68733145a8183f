"""What the SDK registers for a site's provider chain, turned into what the engine sends the host."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.emulator import Emulator
from tests.harness import SECRET_KEY, SECRET_SIG, run_program

CHAIN_PROGRAM = Path(__file__).with_name("chain_program.py")
TYPE = "pulumi-python:dynamic/bitbucket:"


def site(emu: Emulator, name: str, mirror_url: str, projects: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "primaryUrl": emu.primary_url, "displayName": name.title(), "baseUrl": mirror_url,
            "caBundle": emu.ca_pem, "projects": projects, **extra}


def registered(sites: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resource name -> {"urn", "type", "news"}: the inputs as the engine hands them to Check.

    The SDK marks `__provider` secret; the host declines secrets at Configure, so the engine
    sends it (and every other value) in the clear, as done here.
    """
    run = run_program(config={"hosttest:sites": json.dumps(sites)}, program=CHAIN_PROGRAM)
    return {r.name: {"urn": r.urn, "type": r.typ, "news": _reveal(r.wire_inputs)}
            for r in run.resources if r.typ.startswith(TYPE)}


def _reveal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return _reveal(value["value"])
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value
