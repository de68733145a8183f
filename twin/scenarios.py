"""Changes of a stack played through the twin: the first `up` of BEFORE, the `up` of AFTER (which
may fail on purpose, or be killed after a step), the `up`s that follow, and what clients saw.

`run(BEFORE, AFTER, ...)` is what `python -m twin` prints; `SCENARIOS` are the changes
README's "Operating a farm" promises something about, each run by the suite
(tests/twin/test_scenarios.py) and behind README's "clients notice" column (twin.readme).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from twin.program import STACKS

from .engine import UpResult
from .twin import Site, Twin, sites_of

SETTLE_S = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    stack: str  # twin/stacks/<stack>.yaml, the starting point
    change: dict[str, Any] = field(default_factory=dict)  # keys of mirrors[0] in AFTER
    before: dict[str, Any] = field(default_factory=dict)  # keys of mirrors[0] in BEFORE
    primary: dict[str, Any] = field(default_factory=dict)  # keys of primary in AFTER
    failing_nodes: tuple[int, ...] = ()  # whose Bitbucket does not start in AFTER's up
    kill_after: Optional[int] = None  # AFTER's up is killed after this many steps
    release: Optional[str] = None  # a new release of this project for AFTER ("boot")
    # Further ups: "after" (the same config again), "before" (back), or keys of mirrors[0] (from BEFORE).
    then: tuple[Any, ...] = ()
    refused: bool = False  # AFTER must be refused at preview
    drop: tuple[str, ...] = ()  # names of mirrors AFTER (and what follows) no longer has


def stack_with(
    stack: str, mirror: dict[str, Any], primary: dict[str, Any], directory: Path, name: str, drop: tuple[str, ...] = ()
) -> Path:
    document = yaml.safe_load((STACKS / f"{stack}.yaml").read_text())
    config = document["config"]
    site = config["bitbucket-mirrors:mirrors"][0]
    site.update(mirror)
    config["bitbucket-mirrors:mirrors"] = [m for m in config["bitbucket-mirrors:mirrors"] if m["name"] not in drop]
    config["bitbucket-mirrors:primary"].update(primary)
    pinned = site.get("installer")
    if pinned and "bitbucketVersion" in mirror and "installer" not in mirror:
        # An admin who pins the installer changes it with the version (preview refuses otherwise).
        version = site["bitbucketVersion"]
        url = re.sub(r"atlassian-bitbucket-[\d.]+\.tar\.gz$", f"atlassian-bitbucket-{version}.tar.gz", pinned["url"])
        if url != pinned["url"]:
            site["installer"] = {"url": url, "sha256": hashlib.sha256(url.encode()).hexdigest()}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@contextlib.contextmanager
def new_release(kind: Optional[str]) -> Iterator[None]:
    """A later release of this project, as the twin's program sees it: "boot", a changed boot
    script (every node's user data changes)."""
    if kind is None:
        yield
        return
    assert kind == "boot", kind
    from components import boot

    original = boot.user_data
    boot.user_data = lambda name: original(name) + "# a later release of bitbucket-mirrors\n"  # type: ignore[assignment]
    try:
        yield
    finally:
        boot.user_data = original  # type: ignore[assignment]


def summary(result: UpResult) -> dict[str, Any]:
    return {
        "error": result.error,
        "killed": result.killed,
        "changes": result.changes,
        "modelled_wall_s": round(result.end - result.start, 1),
    }


def run(
    before: Path,
    after: Optional[Path] = None,
    *,
    failing_nodes: tuple[int, ...] = (),
    kill_after: Optional[int] = None,
    release: Optional[str] = None,
    then: tuple[Path, ...] = (),
    parallel: Optional[int] = None,
) -> dict[str, Any]:
    """The twin's report of a first `up` of BEFORE, then AFTER's, then each of `then`'s, then one more
    `up` of the last file (the JSON `python -m twin` prints)."""
    twin = Twin([before, *([after] if after else []), *then], parallel=parallel)
    try:
        first = twin.up(before)
        twin.record_generations()
        seen = list(twin._sites)
        first_sites = _sites(twin, first, first.start, first.end, serves=True)
        if first.error or after is None:
            return _first_only(twin, before, first, first_sites)
        with new_release(release):
            preview = twin.preview(after)
            if preview.error:
                return {
                    "converged": False,
                    "error": preview.error,
                    "refused_at_preview": True,
                    "steps": [],
                    "preview_warnings": _warnings(preview),
                    "sites": _sites(twin, first, first.end, first.end),
                    "second_up_changes": 0,
                }
            changed = twin.up(after, kill_after=kill_after, failing_nodes=frozenset(failing_nodes))
            twin.record_generations()
            seen += [site for site in twin._sites if site.name not in {s.name for s in seen}]
            converged = changed.error is None and all(twin.converged(site) for site in twin._sites)
            report: dict[str, Any] = {
                "converged": converged,
                "error": changed.error,
                "killed": changed.killed,
                "steps": [s.json(changed.start) for s in changed.steps if s.operation != "same"],
                "preview_warnings": _warnings(preview),
                "modelled_wall_s": round(changed.end - changed.start, 1),
                "sites": _sites(twin, changed, changed.start, changed.end),
                "first_up": {**summary(first), "sites": first_sites},
                "outputs_before": _plain_outputs(first),
                "outputs_after": _plain_outputs(changed),
            }
            report["then"] = []
            for follow in then:
                report["then"].append(_follow(twin, follow))
                seen += [site for site in twin._sites if site.name not in {s.name for s in seen}]
            last = then[-1] if then else after
            second = twin.up(last)
            twin.record_generations()
            report["second_up_changes"] = second.changes
            report["second_up_steps"] = [s.json(second.start) for s in second.steps if s.operation != "same"]
            report["second_up_error"] = second.error
            report["converged_in_the_end"] = second.error is None and all(twin.converged(s) for s in twin._sites)
            report["removed_sites"] = _removed(twin, seen)
        return report
    finally:
        twin.close()


def _first_only(twin: Twin, before: Path, first: UpResult, first_sites: dict[str, Any]) -> dict[str, Any]:
    if first.error:
        return {
            "converged": False,
            "error": f"the first up of {before.name} failed: {first.error}",
            "steps": [s.json() for s in first.steps],
            "sites": {},
        }
    second = twin.up(before)
    return {
        "converged": all(twin.converged(site) for site in twin._sites),
        "error": None,
        "steps": [s.json(first.start) for s in first.steps if s.operation != "same"],
        "modelled_wall_s": round(first.end - first.start, 1),
        "sites": first_sites,
        "first_up": {**summary(first), "sites": first_sites},
        "then": [],
        "second_up_changes": second.changes,
        "second_up_error": second.error,
        "converged_in_the_end": second.error is None and all(twin.converged(s) for s in twin._sites),
        "removed_sites": {},
    }


def _follow(twin: Twin, follow: Path) -> dict[str, Any]:
    result = twin.up(follow)
    twin.record_generations()
    return {
        "stack": follow.name,
        **summary(result),
        "converged": result.error is None and all(twin.converged(s) for s in twin._sites),
        "steps": [s.json(result.start) for s in result.steps if s.operation != "same"],
        "warnings": _warnings(result),
        "sites": _sites(twin, result, result.start, result.end),
    }


def _removed(twin: Twin, seen: list[Site]) -> dict[str, Any]:
    """The sites an earlier file had and the last one does not: gone from the primary and from AWS?"""
    kept = {s.name for s in twin._sites}
    return {
        site.name: {
            "removed_from_primary": twin.removed_from_primary(site),
            "instances_after": len(twin.site_nodes(site)),
            "generations": twin.generations.get(site.name, []),
        }
        for site in seen
        if site.name not in kept
    }


def _sites(twin: Twin, result: UpResult, start: float, end: float, serves: bool = False) -> dict[str, Any]:
    out = {}
    for site in twin._sites:
        report = twin.report(site, start, end)
        if serves:
            report.serving_from_s = twin.serves_from(site, start, end)
        out[site.name] = {
            **report.json(),
            "modelled_wall_s": round(end - start, 1),
            "clones": twin.clients.between(site.name, start, end),
            "generations": twin.generations.get(site.name, []),
            "instances": _instances(twin, site, start, end),
        }
    return out


def _instances(twin: Twin, site: Site, start: float, end: float) -> dict[str, Any]:
    """Each node's instance at the end (id, type in EC2) and, during the window, how many times it
    left its load balancer (a deregistration from its first target group) and was stopped."""
    out = {}
    for instance in twin.site_nodes(site):
        groups = [g for g in twin.world.target_groups.values() if instance.id in g.registrations]
        regs = groups[0].registrations[instance.id] if groups else []
        out[instance.name] = {
            "id": instance.id,
            "type": instance.instance_type,
            "left_lb": sum(1 for r in regs if r.deregistered_at is not None and start <= r.deregistered_at <= end),
            "stops": sum(1 for t, state in instance.states if state == "stopped" and start <= t <= end),
        }
    return out


def _plain_outputs(result: UpResult) -> dict[str, Any]:
    return {k: v for k, v in result.outputs.items() if isinstance(v, (str, int, float, bool, list, dict))}


def _warnings(result: UpResult) -> list[dict[str, str]]:
    return [{"urn": urn, "message": message} for urn, message in result.warnings]


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="twin-") as tmp:
        directory = Path(tmp)
        before = stack_with(scenario.stack, scenario.before, {}, directory, "before")
        after = stack_with(
            scenario.stack,
            {**scenario.before, **scenario.change},
            scenario.primary,
            directory,
            "after",
            scenario.drop,
        )
        then = tuple(
            before
            if step == "before"
            else after
            if step == "after"
            else stack_with(scenario.stack, {**scenario.before, **step}, {}, directory, f"then{i}", scenario.drop)
            for i, step in enumerate(scenario.then)
        )
        return run(
            before,
            after,
            failing_nodes=scenario.failing_nodes,
            kill_after=scenario.kill_after,
            release=scenario.release,
            then=then,
        )


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
    "SETTLE_S",
]
