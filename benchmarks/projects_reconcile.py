"""MirroredProjects at scale: 2,000 projects on the primary, 1,000 selected, then 100 changed,
against the emulator with 5 ms latency, beside a naive one-call-per-project client, same run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulumi.dynamic import ConfigureRequest  # noqa: E402
from pulumi.dynamic.config import Config  # noqa: E402

from providers.client import BitbucketClient  # noqa: E402
from providers.mirrored_projects import MirroredProjectsProvider  # noqa: E402
from twin.emulator import Emulator  # noqa: E402

PROJECTS, SELECTED, CHANGED = 2000, 1000, 100
MAX_CREATE_REQUESTS, MIN_FACTOR = 25, 40
SETTINGS = "/rest/mirroring/latest/syncSettings/projects"


def _world(latency_s: float):
    emu = Emulator(latency_s=latency_s, password="bench").start()
    keys = emu.add_projects(PROJECTS, repos=1)
    mirror = emu.add_mirror("bench")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    return emu, keys, mirror


def _provider(emu: Emulator) -> MirroredProjectsProvider:
    provider = MirroredProjectsProvider()
    provider.configure(
        ConfigureRequest(
            Config(
                {
                    "bitbucket-mirrors:primaryPassword": "bench",
                    "bitbucket-mirrors:primary": json.dumps({"url": emu.primary_url, "username": "admin"}),
                },
                "bitbucket-mirrors",
            )
        )
    )
    return provider


def _measure(emu: Emulator, action) -> tuple[int, float]:
    emu.clear_log()
    start = time.perf_counter()
    action()
    return len(emu.log), time.perf_counter() - start


def naive(emu: Emulator, mirror, add: list[str], remove: list[str]) -> None:
    """What a script calling the API once per project does: resolve each key, then add or remove it."""
    primary = BitbucketClient(emu.primary_url, "admin", "bench", ca_bundle=emu.ca_pem)
    at_mirror = BitbucketClient(mirror.url, "admin", "bench", ca_bundle=emu.ca_pem)
    for key in add:
        project_id = primary.get(f"/rest/api/latest/projects/{key}")["id"]
        at_mirror.post(f"{SETTINGS}/{project_id}")
    for key in remove:
        project_id = primary.get(f"/rest/api/latest/projects/{key}")["id"]
        at_mirror.delete(f"{SETTINGS}/{project_id}")


def run(latency_s: float = 0.005) -> list[dict]:
    emu, keys, mirror = _world(latency_s)
    try:
        provider = _provider(emu)
        chosen, changed = keys[:SELECTED], keys[CHANGED : SELECTED + CHANGED]
        props = {
            "primary_url": emu.primary_url,
            "mirror_url": mirror.url,
            "mirror_id": mirror.mirror_id,
            "project_keys": chosen,
            "mirror_all": False,
            "wait_for_sync": False,
            "ca_bundle": emu.ca_pem,
        }
        created: dict = {}
        create_requests, create_s = _measure(emu, lambda: created.update(provider.create(props).outs))
        new_props = {**props, "project_keys": changed}
        update_requests, update_s = _measure(emu, lambda: provider.update(mirror.mirror_id, created, new_props))
        assert len(mirror.project_ids) == SELECTED
    finally:
        emu.stop()
    emu, keys, mirror = _world(latency_s)
    try:
        naive_create, naive_create_s = _measure(emu, lambda: naive(emu, mirror, keys[:SELECTED], []))
        naive_update, naive_update_s = _measure(
            emu, lambda: naive(emu, mirror, keys[SELECTED : SELECTED + CHANGED], keys[:CHANGED])
        )
    finally:
        emu.stop()
    factor = naive_create / create_requests
    met = create_requests <= MAX_CREATE_REQUESTS and factor >= MIN_FACTOR
    return [
        {
            "benchmark": f"MirroredProjects create: select {SELECTED} of {PROJECTS} projects (5 ms latency)",
            "measure": "HTTP requests / wall",
            "value": f"{create_requests} req / {create_s:.2f} s ({factor:.0f}x fewer)",
            "baseline / naive": f"{naive_create} req / {naive_create_s:.2f} s",
            "target": f"<= {MAX_CREATE_REQUESTS} req and >= {MIN_FACTOR}x fewer",
            "result": "met" if met else "MISSED",
        },
        {
            "benchmark": f"MirroredProjects update: change {CHANGED} of the {SELECTED}",
            "measure": "HTTP requests / wall",
            "value": f"{update_requests} req / {update_s:.2f} s",
            "baseline / naive": f"{naive_update} req / {naive_update_s:.2f} s",
            "target": "",
            "result": "",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
