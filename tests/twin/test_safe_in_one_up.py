"""Every change safe in one `up` (issue #28): combined changes converge or are refused at preview naming
the keys and their order, and a removed site or node is torn down in an order that works, through the
twin of `pulumi up` (each scenario is played once per session, tests/twin/conftest.py)."""

from __future__ import annotations

import pytest

from tests.twin.conftest import settles

# README's rows these tests speak for (tests/twin/test_scenarios.py requires every row's scenario tested).
TABLE_SCENARIOS = {
    "farm2-scale-out-and-bugfix",
    "farm2-scale-out-and-os-image",
    "farm2-scale-out-and-instance-type",
    "farm3-scale-in-and-instance-type",
    "farm3-scale-in-and-os-image",
    "farm2-scale-out-and-minor",
    "single-scale-1-2-and-bugfix",
    "farm3-scale-in-and-bugfix",
    "farm3-scale-in-and-minor",
    "farm3-scale-in-and-display-name",
    "farm3-scale-in-and-kms-key",
    "site-removed",
    "farm3-bugfix-killed-mid-rollout",
    "farm3-minor-killed-mid-rollout",
}
SITE_URN = "urn:pulumi:twin::bitbucket-mirrors::bitbucket-mirrors:site:MirrorSite::{}"


def _site(report):
    (site,) = report["sites"].values()
    return site


def _converged(report, version: str):
    assert report["converged"], report["error"]
    assert report["converged_in_the_end"]
    settles(report)
    for site in report["sites"].values():
        assert site["upgrade_mode_after"] is False and site["approved_after"]
        assert site["versions_after"] == [version] * site["nodes"] and site["serving_after"] == site["nodes"]


# --- item 2: scaling together with another change -----------------------------------------------
# Scaling out (2 -> 3) with a change: the farm keeps N-1 of the smaller count (2) serving.
@pytest.mark.parametrize(
    "name, version",
    [
        ("farm2-scale-out-and-bugfix", "9.4.17"),
        ("farm2-scale-out-and-os-image", "9.4.16"),
        ("farm2-scale-out-and-instance-type", "9.4.16"),
        ("farm3-scale-in-and-instance-type", "9.4.16"),
        ("farm3-scale-in-and-os-image", "9.4.16"),
    ],
)
def test_scaling_with_a_rolling_change_converges_and_clients_notice_nothing(scenario, name, version):
    report = scenario(name)
    _converged(report, version)
    site = _site(report)
    assert site["min_serving"] >= 1 and site["outage_s"] == 0  # N-1 of the smaller count, 2
    assert site["clones"]["failed"] == 0 and site["clones"]["started"] > 0, site["clones"]
    assert not [w for w in report["preview_warnings"] if "unavailable" in w["message"]]


def test_scaling_out_with_a_new_version_installs_it_on_the_new_node_directly(scenario):
    report = scenario("farm2-scale-out-and-bugfix")
    operations = {s["resource"]: s["operation"] for s in report["steps"]}
    assert operations["Instance iad-node2-instance"] == "create"
    assert operations["Command iad-node2-install"] == "create"


@pytest.mark.parametrize(
    "name, site, version, longest_s",
    [("farm2-scale-out-and-minor", "iad", "9.5.0", 240), ("single-scale-1-2-and-bugfix", "fra", "9.4.17", 480)],
)
def test_scaling_out_with_an_upgrade_that_cannot_roll_is_an_outage_said_at_preview_under_the_site(
    scenario, name, site, version, longest_s
):
    report = scenario(name)
    _converged(report, version)
    assert 0 < _site(report)["outage_s"] <= longest_s and _site(report)["clones"]["failed"] > 0
    said = [w for w in report["preview_warnings"] if w["urn"] == SITE_URN.format(site)]
    assert any("mirrors[0].bitbucketVersion" in w["message"] and "unavailable" in w["message"] for w in said)


@pytest.mark.parametrize(
    "name, said",
    [
        ("farm3-scale-in-and-bugfix", "mirrors[0].nodes: 3 -> 1 together with mirrors[0].bitbucketVersion: 9.4.16"),
        ("farm3-scale-in-and-minor", "mirrors[0].nodes: 3 -> 2 together with mirrors[0].bitbucketVersion: 9.4.16"),
        ("farm3-scale-in-and-display-name", "mirrors[0].nodes: 3 -> 1 together with a rebuild as a new mirror"),
        ("farm3-scale-in-and-kms-key", "mirrors[0].nodes: 3 -> 2 together with a rebuild as a new mirror"),
    ],
)
def test_scaling_in_with_a_new_version_or_mirror_is_refused_at_preview_naming_the_order(scenario, name, said):
    report = scenario(name)
    assert report["refused_at_preview"] and report["steps"] == []
    assert said in report["error"] and "Do it in two ups: first mirrors[0].nodes:" in report["error"]
    site = _site(report)
    assert site["serving_after"] == 3 and site["versions_after"] == ["9.4.16"] * 3


def test_the_order_a_refusal_names_converges(scenario):
    report = scenario("farm3-scale-in-then-bugfix")
    assert report["converged"] and _site(report)["versions_after"] == ["9.4.16"]
    (upgrade,) = report["then"]
    assert upgrade["converged"], upgrade["error"]
    assert upgrade["sites"]["iad"]["versions_after"] == ["9.4.17"]
    assert upgrade["sites"]["iad"]["upgrade_mode_after"] is False
    assert report["converged_in_the_end"] and report["second_up_changes"] == 0


# --- item 4: a removed site, a removed node --------------------------------------------------------
@pytest.mark.parametrize("name, gone", [("site-removed", "mel"), ("three-regions-site-removed", "fra")])
def test_a_removed_site_is_gone_from_the_primary_and_from_aws_and_the_others_keep_serving(scenario, name, gone):
    report = scenario(name)
    assert report["converged"], report["error"]
    assert report["removed_sites"][gone]["removed_from_primary"] is True
    assert report["removed_sites"][gone]["instances_after"] == 0
    for site in report["sites"].values():
        assert site["outage_s"] == 0 and site["clones"]["failed"] == 0
    assert report["converged_in_the_end"] and report["second_up_changes"] == 0


@pytest.mark.parametrize("name, gone", [("site-removed", "mel"), ("three-regions-site-removed", "fra")])
def test_a_removed_sites_node_is_retired_before_its_ssh_rule_goes_and_never_drained_for_minutes(scenario, name, gone):
    steps = {s["resource"]: s for s in scenario(name)["steps"] if s["operation"] == "delete"}
    retires = [s for r, s in steps.items() if r.startswith(f"Command {gone}-node") and r.endswith("-retire")]
    # SSH in (from the admins or the bastion), and the way out to the primary (443 and its SSH port).
    needed = [
        s
        for r, s in steps.items()
        if r.startswith(f"SecurityGroupIngressRule {gone}-nodes-in-admin-ssh")
        or r
        in (
            f"SecurityGroupEgressRule {gone}-nodes-egress-https",
            f"SecurityGroupEgressRule {gone}-nodes-egress-primary-ssh",
        )
    ]
    assert retires and len(needed) >= 3
    assert min(rule["start"] for rule in needed) >= max(retire["end"] for retire in retires)
    # Its load balancer went first: nothing to drain, no deregistration delay waited out.
    drain = steps[f"NodeDrain {gone}-node0-drain"]
    assert drain["end"] - drain["start"] < 5


def test_a_removed_node_is_drained_then_retired_and_the_farm_keeps_serving(scenario):
    report = scenario("farm3-node-removed")
    _converged(report, "9.4.16")
    site = _site(report)
    assert site["min_serving"] >= 1 and site["clones"]["failed"] == 0
    steps = {s["resource"]: s for s in report["steps"] if s["operation"] == "delete"}
    drain, retire = steps["NodeDrain iad-node2-drain"], steps["Command iad-node2-retire"]
    assert drain["end"] <= retire["start"] and steps["Instance iad-node2-instance"]["start"] >= retire["end"]


# --- item 5's rows: what a killed rollout leaves serving, and that the next up resumes ----------------
def test_a_bug_fix_rollout_killed_mid_way_leaves_all_nodes_but_one_serving_and_the_next_up_resumes(scenario):
    report = scenario("farm3-bugfix-killed-mid-rollout")
    assert report["killed"] and _site(report)["min_serving"] >= 2
    assert _site(report)["upgrade_mode_after"] is True  # the next up ends it
    (again,) = report["then"]
    assert again["converged"] and again["sites"]["iad"]["upgrade_mode_after"] is False
    assert again["sites"]["iad"]["versions_after"] == ["9.4.17"] * 3 and again["sites"]["iad"]["min_serving"] >= 2
    assert report["converged_in_the_end"] and report["second_up_changes"] == 0


def test_a_minor_rollout_killed_mid_way_is_resumed_by_the_next_up(scenario):
    report = scenario("farm3-minor-killed-mid-rollout")
    assert report["killed"]
    (again,) = report["then"]
    assert again["converged"], again["error"]
    assert again["sites"]["iad"]["versions_after"] == ["9.5.0"] * 3
    assert report["converged_in_the_end"] and report["second_up_changes"] == 0
