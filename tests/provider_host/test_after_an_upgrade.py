"""After a farm's upgrade, nothing is left to do (issue #23): a further `pulumi preview` through
Pulumi's own provider host shows no step with changes, and a further `pulumi up` takes no node out
and calls neither `zdu/start` nor `zdu/end` again. The farm, moto's load balancer and the engine's
side are test_rolling_upgrade's."""

from __future__ import annotations

from pulumi.runtime import proto

from twin.provider_host.engine import ResourceState

# pytest finds the rolling upgrade's fixtures by name in this module.
from .test_rolling_upgrade import NEW, OLD, ORDER, aws, farm, registrations, started, up, zdu_calls  # noqa: F401, E402


def test_after_an_upgrade_a_further_preview_and_up_have_nothing_to_do(emu, farm, start_host):
    farm, env = farm
    state: dict[str, ResourceState] = {f"installed-{i}": f"{OLD}-{i}" for i in range(3)}
    up(started(start_host, env, emu, farm), farm, OLD, state)
    up(started(start_host, env, emu, farm), farm, NEW, state)
    assert zdu_calls(emu) == (1, 1) and {n.version for n in farm.mirror.farm_nodes} == {NEW}
    farm.events.clear()

    engine = started(start_host, env, emu, farm)  # `pulumi preview`: check and diff, nothing else
    resources = registrations(farm, NEW)
    changes = {}
    for name in ORDER:
        news = dict(resources[name]["news"])
        if name == "fra-upgrade-finish":
            news["kind"] = state["fra-upgrade"].outputs["kind"]
            news["zdu_started"] = state["fra-upgrade"].outputs.get("zdu_started")
        inputs, failures = engine.check(resources[name]["urn"], news, olds=state[name].inputs)
        assert failures == [], failures
        diff = engine.diff(state[name], inputs)
        changes[name] = proto.DiffResponse.DiffChanges.Name(diff.changes)
    assert changes == {name: "DIFF_NONE" for name in ORDER}

    up(started(start_host, env, emu, farm), farm, NEW, state)  # `pulumi up` again
    assert farm.events == []
    assert zdu_calls(emu) == (1, 1) and farm.mirror.upgrade_mode is False
    assert farm.serving() == [0, 1, 2]
