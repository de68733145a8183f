"""MirrorGeneration: a new mirror exactly when Bitbucket needs one (setup values, leaving mirror-all)."""

from __future__ import annotations

import pytest

from providers.mirror_generation import MirrorGenerationProvider, rebuild_reasons

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
OLD = {
    "display_name": "Sydney",
    "base_url": "https://mirror-syd.example.com",
    "primary_url": "https://bitbucket.example.com",
    "mirror_all": False,
}


@pytest.mark.parametrize(
    "change, replaces",
    [
        ({"display_name": "Sydney mirror"}, ["display_name"]),
        ({"base_url": "https://mirror-au.example.com"}, ["base_url"]),
        ({"primary_url": "https://git.example.com"}, ["primary_url"]),
        ({"display_name": UNKNOWN}, ["display_name"]),
        ({"base_url": "https://MIRROR-SYD.example.com:443/"}, []),  # the same URL, written otherwise
        ({"mirror_all": True}, []),  # selected -> all: an ordinary change
    ],
)
def test_a_new_mirror_exactly_when_bitbucket_needs_one(change, replaces):
    assert rebuild_reasons(OLD, {**OLD, **change}) == replaces
    diff = MirrorGenerationProvider().diff("gen", OLD, {**OLD, **change})
    assert diff.replaces == []  # a new generation is an update (tests/twin/test_provider_replace_protocol.py)
    assert diff.changes is (change != {"base_url": "https://MIRROR-SYD.example.com:443/"})


def test_leaving_mirror_all_needs_a_new_mirror():
    provider = MirrorGenerationProvider()
    everything = {**OLD, "mirror_all": True}
    assert rebuild_reasons(everything, OLD) == ["mirror_all"]
    assert rebuild_reasons(everything, {**OLD, "mirror_all": UNKNOWN}) == ["mirror_all"]
    assert provider.diff("gen", everything, OLD).changes is True
    assert provider.diff("gen", everything, everything).changes is False


def test_check_derives_the_generation_so_a_preview_knows_it_and_every_rebuild_gets_a_new_one():
    provider = MirrorGenerationProvider()
    first = provider.check({}, dict(OLD)).inputs
    assert first["generation"] == provider.check({}, dict(OLD)).inputs["generation"]  # the preview's is the up's
    created = provider.create(first)
    assert created.id == first["generation"] == created.outs["generation"]
    # An ordinary change keeps it, through update and refresh.
    kept = provider.check(first, {**OLD, "mirror_all": True}).inputs
    assert kept["generation"] == first["generation"]
    assert provider.update(created.id, created.outs, kept).outs["generation"] == created.id
    assert provider.read(created.id, created.outs).outs["generation"] == created.id
    # A rebuild gets a new one; going back to the old values is yet another mirror, never the first.
    rebuilt = provider.check(first, {**OLD, "display_name": "Sydney mirror"}).inputs
    back = provider.check(rebuilt, dict(OLD)).inputs
    assert len({first["generation"], rebuilt["generation"], back["generation"]}) == 3
    # A state from before check derived it: kept on an ordinary change, new on a rebuild.
    legacy = {**OLD, "generation": None}
    assert "generation" not in provider.check({**OLD}, {**OLD, "mirror_all": True}).inputs
    assert provider.check(legacy | {"display_name": "x"}, {**OLD}).inputs["generation"] != first["generation"]


@pytest.mark.parametrize(
    "olds, change, keys",
    [
        (OLD, {"display_name": "Sydney mirror"}, "mirrors[2].displayName changed"),
        (OLD, {"base_url": "https://mirror-au.example.com"}, "mirrors[2].baseUrl changed"),
        (OLD, {"primary_url": "https://git.example.com"}, "primary.url changed"),
        ({**OLD, "mirror_all": True}, {"mirror_all": False}, "mirrors[2].mirrorAll changed"),
    ],
)
def test_preview_warns_naming_the_key_that_rebuilds_the_mirror(capsys, olds, change, keys):
    news = {**olds, **change, "config_key": "mirrors[2]"}
    checked = MirrorGenerationProvider().check({**olds, "config_key": "mirrors[2]"}, news)
    assert checked.failures == []
    assert checked.inputs["impact"].startswith(keys)
    assert "synchronised again from scratch" in checked.inputs["impact"]
    # Without an engine to attribute it to a site, the warning is a console line.
    assert f"warning: {keys}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "olds, news",
    [
        ({}, OLD),  # a new site: nothing to rebuild
        (OLD, {**OLD, "base_url": "https://MIRROR-SYD.example.com:443/"}),  # the same URL
        (OLD, {**OLD, "mirror_all": True}),  # selected -> all
    ],
)
def test_no_warning_where_the_mirror_stays(capsys, olds, news):
    checked = MirrorGenerationProvider().check(olds, {**news, "config_key": "mirrors[0]"})
    assert checked.inputs["impact"] is None and capsys.readouterr().err == ""


KEY = "arn:aws:kms:ap-southeast-2:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_a_new_kms_key_is_a_new_mirror_and_no_key_changes_no_generation():
    """Another key gives every node new, empty volumes; a site without one keeps the generation it had
    before the key was an input (its hash is unchanged), so upgrading this project rebuilds nothing."""
    from providers.mirror_generation import next_generation

    provider = MirrorGenerationProvider()
    assert rebuild_reasons(OLD, {**OLD, "kms_key_arn": KEY}) == ["kms_key_arn"]
    assert provider.diff("gen", OLD, {**OLD, "kms_key_arn": KEY}).changes is True
    assert provider.diff("gen", {**OLD, "kms_key_arn": KEY}, {**OLD, "kms_key_arn": KEY}).changes is False
    assert next_generation("g0", {**OLD, "kms_key_arn": None}) == next_generation("g0", OLD)
    assert next_generation("g0", {**OLD, "kms_key_arn": KEY}) != next_generation("g0", OLD)


def test_preview_names_the_kms_key_when_it_rebuilds_the_mirror(capsys):
    MirrorGenerationProvider().check(
        {**OLD, "generation": "g1"}, {**OLD, "kms_key_arn": KEY, "config_key": "mirrors[0]"}
    )
    assert "mirrors[0].kmsKeyArn (or kmsKeyArn) changed: the mirror is rebuilt" in capsys.readouterr().err


@pytest.mark.parametrize(
    "olds, change",
    [
        (OLD, {"display_name": "Sydney mirror"}),
        (OLD, {"base_url": "https://mirror-au.example.com"}),
        (OLD, {"primary_url": "https://git.example.com"}),
        (OLD, {"kms_key_arn": "arn:aws:kms:ap-southeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        ({**OLD, "mirror_all": True}, {"mirror_all": False}),
    ],
    ids=["display_name", "base_url", "primary_url", "kms_key_arn", "leaving mirror_all"],
)
def test_a_rebuild_is_an_update_to_the_next_generation_never_a_replacement(olds, change):
    # A replacement is created from a second Check with no olds (pulumi/pulumi step_generator.go),
    # which cannot know the generation before it: derived from the new values alone it would come
    # back to an earlier one. Updated, the next generation follows from the state's, and Update
    # records what Check (with the olds) showed at preview; nothing is deleted, so nothing is lost
    # on an `up` that fails on the way.
    provider = MirrorGenerationProvider()
    first = provider.check({}, dict(olds)).inputs
    created = provider.create(first).outs
    news = {**olds, **change}
    diff = provider.diff("gen", created, news)
    assert diff.changes is True and diff.replaces == [] and diff.delete_before_replace is False
    checked = provider.check(first, news).inputs
    updated = provider.update(first["generation"], created, checked).outs
    assert updated["generation"] == checked["generation"] != first["generation"]
    # Without Check's value, Update derives the same one from the state.
    assert (
        provider.update(first["generation"], created, {**news, "generation": None}).outs["generation"]
        == (checked["generation"])
    )
