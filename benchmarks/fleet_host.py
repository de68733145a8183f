"""N sites through Pulumi's own provider host: does the time for N sites stay near one site's?

As `pulumi up` runs them: one `python -m pulumi.dynamic` process serves every site's MirrorSetup,
MirrorApproval and MirroredProjects (pickled and configured as the engine does it, see
tests/provider_host/), the sites' chains run concurrently, each mirror registers 2 s in, and each
site's sync takes 12 s (12 repositories at one a second). Production poll intervals. The stock
host (BITBUCKET_MIRRORS_STOCK_HOST_POOL=1, the SDK's four workers) is measured too: the "before".
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from providers.host_pool import STOCK_POOL_VARIABLE  # noqa: E402
from twin.emulator import Emulator  # noqa: E402
from twin.provider_host.engine import Engine, HostProcess  # noqa: E402
from twin.provider_host.registration import registered, site, stack_config, up  # noqa: E402

PASSWORD = "bench-fleet"
REGISTER_AFTER_S, REPOS_PER_SITE, REPOS_PER_S = 2.0, 12, 1.0
TARGET_RATIO = 1.5


def fleet_seconds(sites: int, stock_pool: bool = False) -> float:
    with Emulator(password=PASSWORD, sync_repos_per_s=REPOS_PER_S) as emu:
        keys = [f"P{i}" for i in range(sites)]
        for key in keys:
            emu.add_project(key, repos=REPOS_PER_SITE)
        mirrors = [emu.add_mirror(f"s{i}", register_after_s=REGISTER_AFTER_S) for i in range(sites)]
        resources = registered(
            [
                site(emu, f"s{i}", m.url, [keys[i]], waitForSync=True, timeoutS=120, syncTimeoutS=600)
                for i, m in enumerate(mirrors)
            ]
        )
        host = HostProcess(env={STOCK_POOL_VARIABLE: "1"} if stock_pool else {})
        engine = Engine(host)
        try:
            engine.configure(stack_config(emu, PASSWORD, mirrors[0].url))
            started = time.monotonic()
            with ThreadPoolExecutor(sites) as pool:
                list(pool.map(lambda i: up(engine, resources, f"s{i}"), range(sites)))
            return time.monotonic() - started
        finally:
            engine.close()
            host.stop()


def run() -> list[dict]:
    one = fleet_seconds(1)
    twelve = fleet_seconds(12)
    stock = fleet_seconds(12, stock_pool=True)
    ratio = twelve / one
    measure = (
        f"wall from the first Check to the last Create, mirrors registering {REGISTER_AFTER_S:g} s in, "
        f"{REPOS_PER_SITE / REPOS_PER_S:g} s sync per site, production polls"
    )
    return [
        {"benchmark": "fleet through the SDK provider host: 1 site", "measure": measure, "value": f"{one:.1f} s"},
        {
            "benchmark": "fleet through the SDK provider host: 12 sites",
            "measure": measure,
            "value": f"{twelve:.1f} s ({ratio:.2f}x one site)",
            "baseline / naive": f"stock host (4 workers): {stock:.1f} s ({stock / one:.2f}x)",
            "target": f"<= {TARGET_RATIO:g}x one site",
            "result": "met" if ratio <= TARGET_RATIO else "MISSED",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
