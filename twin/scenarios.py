"""Changes of a stack played through the twin: the first `up` of BEFORE, the `up` of AFTER (which
may fail on purpose, or be killed after a step), the `up`s that follow, and what clients saw.

`run(BEFORE, AFTER, ...)` (twin/scenario_run.py) is what `python -m twin` prints; `SCENARIOS` are the changes
README's "Operating a farm" promises something about, each run by the suite
(tests/twin/test_scenarios.py) and behind README's "clients notice" column (twin.readme).
"""

from __future__ import annotations

from typing import Any, Callable

from .scenario import Scenario, stack_with
from .scenario_run import run, run_scenario
from .twin import sites_of

SETTLE_S = 0.0


FARM3, FARM2 = {"nodes": 3}, {"nodes": 2}
BUGFIX, MINOR = {"bitbucketVersion": "9.4.17"}, {"bitbucketVersion": "9.5.0"}

KMS = {"kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"}
# Scaling together with another change in one up (issue #28 item 2).
COMBINED = [
    # converge: scaling out adds nodes on the new version; scaling in with no new version or mirror
    Scenario("farm2-scale-out-and-bugfix", "farm-3", {**FARM3, **BUGFIX}, before=FARM2),
    Scenario("farm2-scale-out-and-minor", "farm-3", {**FARM3, **MINOR}, before=FARM2),
    Scenario("single-scale-1-2-and-bugfix", "single-acm", {"nodes": 2, **BUGFIX}),
    Scenario("farm2-scale-out-and-os-image", "farm-3", {**FARM3, "osImage": "refresh: 2026-12"}, before=FARM2),
    Scenario("farm2-scale-out-and-instance-type", "farm-3", {**FARM3, "instanceType": "m6i.4xlarge"}, before=FARM2),
    Scenario("farm3-scale-in-and-instance-type", "farm-3", {**FARM2, "instanceType": "m6i.4xlarge"}),
    Scenario("farm3-scale-in-and-os-image", "farm-3", {**FARM2, "osImage": "refresh: 2026-12"}),
    # refused at preview, naming the keys and the order; the order it names converges
    Scenario("farm3-scale-in-and-bugfix", "farm-3", {"nodes": 1, **BUGFIX}, refused=True),
    Scenario("farm3-scale-in-and-minor", "farm-3", {**FARM2, **MINOR}, refused=True),
    Scenario("farm3-scale-in-and-display-name", "farm-3", {"nodes": 1, "displayName": "Virginia"}, refused=True),
    Scenario("farm3-scale-in-and-kms-key", "farm-3", {**FARM2, **KMS}, refused=True),
    Scenario("farm3-scale-in-then-bugfix", "farm-3", {"nodes": 1}, then=({"nodes": 1, **BUGFIX},)),
]

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        # single node behind a load balancer (acm) and with nginx on the node
        Scenario("single-bugfix", "single-acm", BUGFIX),
        Scenario("single-minor", "single-acm", MINOR),
        Scenario("single-downgrade", "single-acm", {"bitbucketVersion": "9.4.15"}, refused=True),
        Scenario("single-instance-type", "single-acm", {"instanceType": "m6i.2xlarge"}),
        Scenario("single-scale-1-2", "single-acm", {"nodes": 2}),
        Scenario("single-home-grow", "single-acm", {"homeVolumeGb": 200}),
        Scenario("single-display-name", "single-acm", {"displayName": "Frankfurt mirror"}),
        Scenario("single-user-data", "single-acm", release="boot"),
        Scenario("nginx-bugfix", "single-nginx", BUGFIX),
        Scenario("nginx-instance-type", "single-nginx", {"instanceType": "m6i.2xlarge"}),
        Scenario("nginx-display-name", "single-nginx", {"displayName": "Sydney mirror"}),
        # a farm of two
        Scenario("farm2-bugfix", "farm-3", BUGFIX, before=FARM2),
        Scenario("farm2-minor", "farm-3", MINOR, before=FARM2),
        Scenario("farm2-scale-2-3", "farm-3", FARM3, before=FARM2),
        Scenario("farm2-scale-2-1", "farm-3", {"nodes": 1}, before=FARM2),
        Scenario("farm2-instance-type", "farm-3", {"instanceType": "m6i.4xlarge"}, before=FARM2),
        Scenario("farm2-instance-type-and-bugfix", "farm-3", {"instanceType": "m6i.4xlarge", **BUGFIX}, before=FARM2),
        # a farm of three
        Scenario("farm3-bugfix", "farm-3", BUGFIX),
        Scenario("farm3-minor", "farm-3", MINOR),
        Scenario("farm3-downgrade", "farm-3", {"bitbucketVersion": "9.4.15"}, refused=True),
        Scenario("farm3-scale-3-2", "farm-3", FARM2),
        Scenario("farm3-instance-type", "farm-3", {"instanceType": "m6i.4xlarge"}),
        Scenario("farm3-instance-type-and-bugfix", "farm-3", {"instanceType": "m6i.4xlarge", **BUGFIX}),
        Scenario("farm3-home-grow", "farm-3", {"homeVolumeGb": 200}),
        Scenario("farm3-display-name", "farm-3", {"displayName": "Virginia"}),
        Scenario("farm3-base-url", "farm-3", {"baseUrl": "https://mirror-us-east.example.com"}),
        Scenario("farm3-primary-url", "farm-3", primary={"url": "https://bitbucket-next.example.com"}),
        Scenario("farm3-mirror-all-off", "farm-3", {"mirrorAll": False, "projects": ["PLAT"]}),
        Scenario(
            "farm3-mirror-all-on",
            "farm-3",
            {"mirrorAll": True, "projects": []},
            before={"mirrorAll": False, "projects": ["PLAT"]},
        ),
        Scenario(
            "farm3-projects", "farm-3", {"projects": ["PLAT", "OPS"]}, before={"mirrorAll": False, "projects": ["PLAT"]}
        ),
        Scenario("farm3-user-data", "farm-3", release="boot"),
        # round trips: each way back is a new mirror, never an earlier generation (issue #28 item 1)
        Scenario(
            "farm3-mirror-all-round-trip",
            "farm-3",
            {"mirrorAll": True, "projects": []},
            before={"mirrorAll": False, "projects": ["PLAT"]},
            then=("before",),
        ),
        Scenario("single-display-name-round-trip", "single-acm", {"displayName": "Frankfurt mirror"}, then=("before",)),
        *[
            Scenario(f"farm3-bugfix-node{k}-fails-resume", "farm-3", BUGFIX, failing_nodes=(k,), then=("after",))
            for k in range(3)
        ],
        *[
            Scenario(f"farm3-bugfix-node{k}-fails-back-out", "farm-3", BUGFIX, failing_nodes=(k,), then=("before",))
            for k in range(3)
        ],
        Scenario("farm3-bugfix-node1-fails-then-minor", "farm-3", BUGFIX, failing_nodes=(1,), then=(MINOR,)),
        Scenario("farm3-minor-node0-fails-resume", "farm-3", MINOR, failing_nodes=(0,), then=("after",)),
        Scenario("farm3-minor-node0-fails-back-out", "farm-3", MINOR, failing_nodes=(0,), then=("before",)),
        Scenario("single-bugfix-fails-back-out", "single-acm", BUGFIX, failing_nodes=(0,), then=("before",)),
        # the homes' snapshots, and the way back they give
        Scenario(
            "farm2-upgrades-keep-two-snapshots",
            "farm-3",
            BUGFIX,
            before=FARM2,
            then=({**FARM2, "bitbucketVersion": "9.4.18"}, {**FARM2, "bitbucketVersion": "9.4.19"}),
        ),
        Scenario(
            "farm3-bugfix-restore",
            "farm-3",
            BUGFIX,
            then=({"bitbucketVersion": "9.4.16", "restoreFrom": "9.4.16"}, {"bitbucketVersion": "9.4.16"}),
        ),
        Scenario(
            "farm3-minor-fails-restore",
            "farm-3",
            MINOR,
            failing_nodes=(0,),
            then=({"bitbucketVersion": "9.4.16", "restoreFrom": "9.4.16"},),
        ),
        Scenario("farm3-bugfix-downgrade-names-snapshots", "farm-3", BUGFIX, then=({"bitbucketVersion": "9.4.16"},)),
        Scenario(
            "single-bugfix-restore",
            "single-acm",
            BUGFIX,
            then=({"bitbucketVersion": "9.4.16", "restoreFrom": "9.4.16"},),
        ),
        # a customer-managed key set on a running site: new volumes, so a new mirror
        Scenario(
            "farm3-kms-key",
            "farm-3",
            {"kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"},
        ),
        # a newer OS image, node by node
        Scenario("farm3-os-image", "farm-3", {"osImage": "refresh: 2026-12"}),
        Scenario(
            "farm3-instance-type-os-image-and-bugfix",
            "farm-3",
            {"instanceType": "m6i.4xlarge", "osImage": "refresh: 2026-12", **BUGFIX},
        ),
        Scenario("farm3-os-image-pinned", "farm-3", {"osImage": "ami-0a1b2c3d4e5f60718"}),
        Scenario("single-os-image", "single-acm", {"osImage": "refresh: 2026-12"}),
        *COMBINED,
        # a site, or a node, removed: torn down in an order that works, gone from the primary and AWS
        Scenario("site-removed", "two-sites", drop=("mel",)),
        Scenario("three-regions-site-removed", "three-regions", drop=("fra",)),
        Scenario("farm3-node-removed", "farm-3", FARM2),
        # an up killed in the middle of a rollout, then run again (README's row; every step: twin/killed.py)
        Scenario("farm3-bugfix-killed-mid-rollout", "farm-3", BUGFIX, kill_after=15, then=("after",)),
        Scenario("farm3-minor-killed-mid-rollout", "farm-3", MINOR, kill_after=11, then=("after",)),
    ]
}


def kill_scenarios(steps: int) -> list[Scenario]:
    """A bug-fix rollout of three nodes killed after each of its `steps` steps, then run again."""
    return [
        Scenario(f"farm3-bugfix-killed-after-{k}", "farm-3", BUGFIX, kill_after=k, then=("after",))
        for k in range(1, steps + 1)
    ]


Check = Callable[[dict[str, Any]], None]
__all__ = [
    "Scenario",
    "SCENARIOS",
    "kill_scenarios",
    "run",
    "run_scenario",
    "sites_of",
    "stack_with",
    "SETTLE_S",
]
