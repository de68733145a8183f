"""ArchiveTrust: trust on first use of each Bitbucket archive, per version, kept in the stack's state."""

from __future__ import annotations

from providers.archive_trust import RETRUST_VARIABLE, ArchiveTrustProvider, reported_sha256

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
FIRST, OTHER, NEXT = "1" * 64, "2" * 64, "3" * 64


def _up(provider: ArchiveTrustProvider, olds: dict, version: str, reported: str):
    """What the engine does: check against the old state, then create or update with the checked inputs."""
    checked = provider.check(olds, {"site": "syd", "version": version, "reported": reported})
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
                "archive-trust-syd", state, provider.check(state, {**state, "reported": reported}).inputs
            ).changes
            is False
        )


def test_other_bytes_for_a_recorded_version_are_refused_naming_both_digests():
    provider = ArchiveTrustProvider()
    state, _ = _up(provider, {}, "9.4.16", FIRST)
    kept, failures = _up(provider, state, "9.4.16", OTHER)
    assert kept is None
    (failure,) = failures
    assert failure.property == "reported"
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
    checked = provider.check(state, {"site": "syd", "version": "9.4.16", "reported": UNKNOWN})
    assert checked.failures == [] and checked.inputs["sha256"] == FIRST
    new_version = provider.check(state, {"site": "syd", "version": "9.4.17", "reported": UNKNOWN})
    assert "sha256" not in new_version.inputs  # unknown until node 0 has verified it


def test_a_report_that_is_not_a_sha256_is_refused():
    failures = ArchiveTrustProvider().check({}, {"site": "syd", "version": "9.4.16", "reported": "abc"}).failures
    assert failures and "expected 64 hex digits" in failures[0].reason


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
