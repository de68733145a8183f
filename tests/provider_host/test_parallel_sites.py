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
from twin.provider_host.engine import Engine
from twin.provider_host.registration import registered, site, stack_config, up

from .conftest import PASSWORD

SITES = 8  # twice the stock pool
ACCEPT = "/rest/mirroring/latest/requests/{id}/accept"


def release_syncs_when_all_selected(emu, mirrors, stop: threading.Event) -> None:
    while not stop.is_set():
        if all(m.project_ids for m in mirrors):
            with emu.state.lock:
                emu.state.sync_repos_per_s = 1000.0
            return
        time.sleep(0.05)


def run_sites(emu, engine: Engine, sync_timeout_s: int) -> list:
    emu.state.sync_repos_per_s = 0.0  # nothing syncs until released
    mirrors = [emu.add_mirror(f"s{i}") for i in range(SITES)]
    for i in range(SITES):
        emu.add_project(f"P{i}")
    sites = [
        site(emu, f"s{i}", m.url, [f"P{i}"], waitForSync=True, syncTimeoutS=sync_timeout_s)
        for i, m in enumerate(mirrors)
    ]
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
    assert emu.stats.successful("POST", ACCEPT) == SITES  # each mirror accepted exactly once
    assert len({o["approval"].id for o in outcomes}) == SITES


# The guarantees the providers gave before the host's pool was widened, through that host.
def test_in_the_widened_host_an_already_approved_mirror_is_adopted_not_accepted_again(emu, start_host):
    mirror = emu.add_mirror("adopted")
    emu.add_project("PLAT")
    emu.state.tick()
    emu.state.accept(mirror.request_id)  # an admin clicked Authorize meanwhile
    engine = start_host()
    engine.configure(stack_config(emu, PASSWORD, mirror.url))
    states = up(engine, registered([site(emu, "adopted", mirror.url, ["PLAT"])]), "adopted")
    assert states["approval"].id == str(mirror.mirror_id)
    assert emu.stats.successful("POST", ACCEPT) == 0


def test_in_the_widened_host_waits_still_end_with_their_timeout_and_say_why(emu, start_host):
    never = emu.add_mirror("never", register_after_s=3600)  # its request never appears
    stuck = emu.add_mirror("stuck")
    emu.add_project("P1")
    emu.state.sync_repos_per_s = 0.0  # and this one never synchronises
    engine = start_host()
    engine.configure(stack_config(emu, PASSWORD, stuck.url))
    resources = registered(
        [
            site(emu, "never", never.url, ["P1"], timeoutS=2),
            site(emu, "stuck", stuck.url, ["P1"], waitForSync=True, syncTimeoutS=3),
        ]
    )
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda name: _outcome(engine, resources, name), ["never", "stuck"]))
    assert "no mirroring request from" in outcomes[0] and "within 2s" in outcomes[0]
    assert "synchronised 0 of" in outcomes[1]


def _outcome(engine: Engine, resources: dict, name: str) -> str:
    try:
        up(engine, resources, name)
    except Exception as exc:  # noqa: BLE001 - the message the user reads is the outcome
        return str(exc)
    return "finished"


def test_with_the_stock_pool_the_same_fleet_queues_and_times_out(emu, start_host):
    # The control: the same fleet in a host left with its four workers. Proves the test above
    # would catch a host whose pool is not widened.
    outcomes = run_sites(emu, start_host(env={STOCK_POOL_VARIABLE: "1"}), sync_timeout_s=6)
    timed_out = [o for o in outcomes if isinstance(o, Exception) and "synchronised 0 of" in str(o)]
    assert timed_out, outcomes
