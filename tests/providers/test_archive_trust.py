"""ArchiveTrust: trust on first use of each Bitbucket archive, per version, kept in the stack's state."""

from __future__ import annotations

from providers.archive_trust import RETRUST_VARIABLE, ArchiveTrustProvider, reported_sha256

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
FIRST, OTHER, NEXT = "1" * 64, "2" * 64, "3" * 64


def _reports(reported) -> dict:
    """Every node of a 3-node site reporting the same (a dict passes as it is)."""
    return reported if isinstance(reported, dict) else {f"syd-node{i}": reported for i in range(3)}


def _up(provider: ArchiveTrustProvider, olds: dict, version: str, reported):
    """What the engine does: check against the old state, then create or update with the checked inputs."""
    checked = provider.check(olds, {"site": "syd", "version": version, "reports": _reports(reported)})
    if checked.failures:
        return None, checked.failures
    if not olds:
        return provider.create(checked.inputs).outs, []
    return provider.update("archive-trust-syd", olds, checked.inputs).outs, []


def test_the_first_verified_sha256_of_a_version_is_recorded_and_handed_to_every_later_node():
    provider = ArchiveTrustProvider()
    state, failures = _up(provider, {}, "9.4.16", FIRST)
    assert failures == [] and state["sha256"] == FIRST and state["digests"] == {"9.4.16": FIRST}
    # Later runs report the same bytes, or nothing (the preflight did not run again): the record stays.
    for reported in (FIRST, ""):
        again, failures = _up(provider, state, "9.4.16", reported)
        assert failures == [] and again["sha256"] == FIRST
        assert (
            provider.diff(
                "archive-trust-syd", state, provider.check(state, {**state, "reports": _reports(reported)}).inputs
            ).changes
            is False
        )


def test_other_bytes_for_a_recorded_version_are_refused_naming_both_digests():
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    kept, failures = _up(provider, state, "9.4.16", OTHER)
    assert kept is None
    (failure,) = failures
    assert failure.property == "reports"
    assert (
        f"verified as sha256 {OTHER}" in failure.reason
        and f"first verified {FIRST} for Bitbucket 9.4.16" in failure.reason
    )
    assert "no node was stopped" in failure.reason and "Trust on first use" in failure.reason
    assert f"{RETRUST_VARIABLE}=syd:9.4.16" in failure.reason


def test_every_version_keeps_its_own_record_also_after_going_back():
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    state, _ = _up(provider, state, "9.4.17", NEXT)
    assert state["sha256"] == NEXT and state["digests"] == {"9.4.16": FIRST, "9.4.17": NEXT}
    # Back to 9.4.16 (a rollback): its first bytes, and no others.
    back, failures = _up(provider, state, "9.4.16", "")
    assert failures == [] and back["sha256"] == FIRST
    _, failures = _up(provider, state, "9.4.16", OTHER)
    assert failures and f"first verified {FIRST}" in failures[0].reason


def test_nothing_reported_records_nothing_and_the_nodes_verify_as_before():
    provider = ArchiveTrustProvider()
    state, failures = _up(provider, {}, "9.4.16", "")  # a stack from before: no preflight ran again
    assert failures == [] and state["sha256"] == "" and state["digests"] == {}
    state, _ = _up(provider, state, "9.4.16", FIRST)  # the first report is the record
    assert state["digests"] == {"9.4.16": FIRST}


def test_a_preview_knows_a_recorded_versions_sha256_while_the_report_is_unknown():
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    checked = provider.check(state, {"site": "syd", "version": "9.4.16", "reports": UNKNOWN})
    assert checked.failures == [] and checked.inputs["sha256"] == FIRST
    new_version = provider.check(state, {"site": "syd", "version": "9.4.17", "reports": UNKNOWN})
    assert "sha256" not in new_version.inputs  # unknown until node 0 has verified it


def test_a_report_that_is_not_a_sha256_is_refused():
    reports = {"syd-node0": FIRST, "syd-node1": "abc"}
    failures = ArchiveTrustProvider().check({}, {"site": "syd", "version": "9.4.16", "reports": reports}).failures
    assert failures and "syd-node1: expected 64 hex digits" in failures[0].reason


def test_the_report_is_read_from_the_preflights_stdout_for_its_version_only():
    stdout = (
        "Installed: curl tar\n"
        f"bitbucket-mirrors archive-sha256 9.4.15 {OTHER}\n"
        f"bitbucket-mirrors archive-sha256 9.4.16 {FIRST}\n"
        f"echo bitbucket-mirrors archive-sha256 9.4.16 {NEXT}\n"  # not a line of its own
    )
    assert reported_sha256(stdout, "9.4.16") == FIRST
    assert reported_sha256(stdout, "9.4.17") == "" and reported_sha256(None, "9.4.16") == ""


def test_other_bytes_are_recorded_only_when_the_operator_asks_for_that_site_and_version(monkeypatch):
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    for asked in ("syd:9.4.17", "mel:9.4.16", "syd:9.4.1"):  # another version or site: still refused
        monkeypatch.setenv(RETRUST_VARIABLE, asked)
        assert _up(provider, state, "9.4.16", OTHER)[0] is None
    monkeypatch.setenv(RETRUST_VARIABLE, "syd:9.4.16")
    again, failures = _up(provider, state, "9.4.16", OTHER)
    assert failures == [] and again["sha256"] == OTHER and again["digests"] == {"9.4.16": OTHER}
    monkeypatch.delenv(RETRUST_VARIABLE)
    assert _up(provider, again, "9.4.16", FIRST)[0] is None  # the new record holds like the first


def test_nodes_that_verified_different_bytes_are_refused_naming_each_node_and_digest():
    # Each node verified its own download (the vendor's MD5 matched each), but not the same bytes:
    # nothing is recorded, on a first up as on a later one.
    provider = ArchiveTrustProvider()
    split = {"syd-node0": FIRST, "syd-node1": OTHER, "syd-node2": FIRST}
    for olds in ({}, _up(provider, {}, "9.4.15", NEXT)[0]):
        state, failures = _up(provider, olds, "9.4.16", split)
        assert state is None
        (failure,) = failures
        assert failure.property == "reports"
        assert f"syd-node0, syd-node2 verified sha256 {FIRST}" in failure.reason
        assert f"syd-node1 verified sha256 {OTHER}" in failure.reason
        assert "no node was stopped" in failure.reason


def test_one_node_that_verified_other_bytes_than_the_record_is_named():
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    # Nodes whose preflight did not run again report nothing; the one that did, other bytes.
    _, failures = _up(provider, state, "9.4.16", {"syd-node0": "", "syd-node1": OTHER, "syd-node2": ""})
    assert failures and f"verified as sha256 {OTHER} on syd-node1, but this site first verified {FIRST}" in (
        failures[0].reason
    )


def test_nodes_that_agree_are_recorded_while_a_node_that_reports_nothing_is_not_a_disagreement():
    provider = ArchiveTrustProvider()
    state, failures = _up(provider, {}, "9.4.16", {"syd-node0": FIRST, "syd-node1": "", "syd-node2": FIRST})
    assert failures == [] and state["sha256"] == FIRST and state["digests"] == {"9.4.16": FIRST}


def test_a_new_versions_sha256_stays_unknown_while_any_nodes_report_is():
    checked = ArchiveTrustProvider().check(
        {}, {"site": "syd", "version": "9.4.16", "reports": {"syd-node0": FIRST, "syd-node1": UNKNOWN}}
    )
    assert checked.failures == [] and "sha256" not in checked.inputs


def test_a_state_written_with_one_reported_value_reads_and_keeps_its_record():
    # The previous release kept node 0's report as `reported` beside the record.
    provider = ArchiveTrustProvider()
    old = {"site": "syd", "version": "9.4.16", "reported": FIRST, "sha256": FIRST, "digests": {"9.4.16": FIRST}}
    checked = provider.check(old, {"site": "syd", "version": "9.4.16", "reports": _reports(FIRST)})
    assert checked.failures == [] and checked.inputs["sha256"] == FIRST
    assert provider.diff("archive-trust-syd", old, checked.inputs).changes is False
    assert provider.read("archive-trust-syd", old).outs["digests"] == {"9.4.16": FIRST}
    _, failures = _up(provider, old, "9.4.16", OTHER)
    assert failures and f"first verified {FIRST}" in failures[0].reason
