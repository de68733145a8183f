"""Round trips converge (issue #28 item 1): going back is a new mirror, never an earlier generation,
played as the engine plays a replacement (twin/engine_steps.py: a replacement's Check has no olds).
Before MirrorGeneration was updated rather than replaced, mirrorAll false -> true -> false came back
to the first generation: no home emptied, and MirroredProjects failed every `up` with
IrreversibleChange."""

from __future__ import annotations

import pytest


def _site(report: dict) -> dict:
    (site,) = report["sites"].values()
    return site


@pytest.mark.parametrize(
    "name, kept_by_the_first_change",
    [("farm3-mirror-all-round-trip", True), ("single-display-name-round-trip", False)],
)
def test_a_round_trip_converges_with_a_new_generation_and_a_new_mirror_each_way_back(
    scenario, name, kept_by_the_first_change
):
    report = scenario(name)
    (back,) = report["then"]
    assert report["converged"] and back["converged"] and report["converged_in_the_end"]
    assert report["second_up_changes"] == 0 and report["second_up_error"] is None
    assert "IrreversibleChange" not in str([report["error"], back["error"], report["second_up_error"]])
    first, after, last = _site(back)["generations"][:3]  # the generation after each up
    assert last not in (first, after)  # the way back is a new mirror
    assert (after == first) is kept_by_the_first_change  # selected -> all keeps the mirror; a new name does not
    # Each rebuild is approved anew on the primary, after the generation moved on (an update).
    for up, rebuilt in ((report, not kept_by_the_first_change), (back, True)):
        operations = {s["resource"].split()[0]: s["operation"] for s in up["steps"]}
        assert operations["MirrorGeneration"] == "update"
        assert (operations.get("MirrorApproval") == "replace") is rebuilt
        assert _site(up)["approved_after"]
