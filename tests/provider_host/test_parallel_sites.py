"""More sites than the SDK host's four workers wait at the same time, none queued behind another.

The emulated primary lets no mirror finish its sync until every site has selected its projects:
with the host's stock pool of four workers, four syncs would hold every worker while the other
sites' selections queue behind them, and the syncs would time out. The test asserts the outcome a
user sees (every site done, none timed out), not a duration.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from providers.host_pool import STOCK_POOL_VARIABLE

from .conftest import PASSWORD
from .engine import Engine
from .registration import registered, site, stack_config, up

SITES = 8   # twice the stock pool


def release_syncs_when_all_selected(emu, mirrors, stop: threading.Event) -> None:
    while not stop.is_set():
        if all(m.project_ids for m in mirrors):
            with emu.state.lock:
                emu.state.sync_repos_per_s = 1000.0
            return
        time.sleep(0.05)


def run_sites(emu, engine: Engine, sync_timeout_s: int) -> list:
    emu.state.sync_repos_per_s = 0.0   # nothing syncs until released
    mirrors = [emu.add_mirror(f"s{i}") for i in range(SITES)]
    for i in range(SITES):
        emu.add_project(f"P{i}")
    sites = [site(emu, f"s{i}", m.url, [f"P{i}"], waitForSync=True, syncTimeoutS=sync_timeout_s)
             for i, m in enumerate(mirrors)]
    resources = registered(sites)
    engine.configure(stack_config(emu, PASSWORD, mirrors[0].url))
    stop = threading.Event()
    releaser = threading.Thread(target=release_syncs_when_all_selected, args=(emu, mirrors, stop), daemon=True)
    releaser.start()

    def one(i: int):
        try:
            return up(engine, resources, f"s{i}")
        except Exception as exc:  # noqa: BLE001 - the outcome per site is what the test reads
            return exc

    try:
        with ThreadPoolExecutor(SITES) as pool:
            return list(pool.map(one, range(SITES)))
    finally:
        stop.set()


def test_every_site_finishes_when_syncs_need_all_sites_selected(emu, start_host):
    outcomes = run_sites(emu, start_host(), sync_timeout_s=20)
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert failures == []
    assert all(o["projects"].outputs["project_ids"] for o in outcomes)


def test_with_the_stock_pool_the_same_fleet_queues_and_times_out(emu, start_host):
    # The control: the same fleet in a host left with its four workers. Proves the test above
    # would catch a host whose pool is not widened.
    outcomes = run_sites(emu, start_host(env={STOCK_POOL_VARIABLE: "1"}), sync_timeout_s=6)
    timed_out = [o for o in outcomes if isinstance(o, Exception) and "synchronised 0 of" in str(o)]
    assert timed_out, outcomes
