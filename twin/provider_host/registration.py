"""What the SDK registers for a site's provider chain, turned into what the engine sends the host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twin.emulator import Emulator
from twin.program import run_program
from twin.wire import SECRET_KEY, SECRET_SIG

from .engine import Engine, ResourceState, engine_config

CHAIN_PROGRAM = Path(__file__).with_name("chain_program.py")
TYPE = "pulumi-python:dynamic/bitbucket:"


def site(emu: Emulator, name: str, mirror_url: str, projects: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "primaryUrl": emu.primary_url,
        "displayName": name.title(),
        "baseUrl": mirror_url,
        "caBundle": emu.ca_pem,
        "projects": projects,
        **extra,
    }


def registered(sites: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resource name -> {"urn", "type", "news"}: the inputs as the engine hands them to Check.

    The SDK marks `__provider` secret; the host declines secrets at Configure, so the engine
    sends it (and every other value) in the clear, as done here.
    """
    run = run_program(config={"hosttest:sites": json.dumps(sites)}, program=CHAIN_PROGRAM)
    return {
        r.name: {"urn": r.urn, "type": r.typ, "news": _reveal(r.wire_inputs)}
        for r in run.resources
        if r.typ.startswith(TYPE)
    }


def stack_config(emu: Emulator, password: str, mirror_url: str) -> dict:
    """Every key of a stack, as `pulumi up` hands it to Configure."""
    return engine_config(
        {
            "aws:region": "ap-southeast-2",
            "primary": {"url": emu.primary_url, "username": "admin", "caBundle": emu.ca_pem},
            "primaryPassword": password,
            "network": {"adminCidrs": ["198.51.100.7/32"]},
            "mirrors": [{"name": "syd", "baseUrl": mirror_url, "projects": ["PLAT"]}],
        }
    )


def up(engine: Engine, resources: dict, site_name: str = "syd") -> dict[str, ResourceState]:
    """Check then Create one site's chain in dependency order, as `pulumi up` does."""
    states: dict[str, ResourceState] = {}
    for step in ("setup", "approval", "projects"):
        resource = resources[f"{site_name}-{step}"]
        news = dict(resource["news"])
        if step == "projects":
            news["mirror_id"] = states["approval"].id  # the approval's output, resolved
        inputs, failures = engine.check(resource["urn"], news)
        if failures:
            raise AssertionError(f"{site_name}-{step}: {failures}")
        states[step] = engine.create(resource["urn"], inputs)
    return states


def _reveal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return _reveal(value["value"])
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value
