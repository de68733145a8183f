"""Playing a change through the twin: the first `up` of BEFORE, the `up` of AFTER (which may fail on
purpose, or be killed after a step), the `up`s that follow, and what clients saw, as one report.
`run(BEFORE, AFTER, ...)` is what `python -m twin` prints."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from .engine import UpResult
from .scenario import Scenario, new_release, stack_with
from .twin import Site, Twin


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
