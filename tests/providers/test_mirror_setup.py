"""MirrorSetup against the emulated primary: preflight, setup keys, replacement rules."""

from __future__ import annotations

import pytest

from providers.base import UNKNOWN
from providers.mirror_setup import PreflightError
from providers.setup_properties import render_setup_block

BASE = "https://mirror-syd.example.com"


def props(emu, **over):
    return {"primary_url": emu.primary_url, "display_name": "Sydney", "base_url": BASE, "ca_bundle": emu.ca_pem, **over}


def test_create_preflights_and_renders_the_setup_block(emu, setup_provider):
    result = setup_provider.create(props(emu))
    assert result.id == BASE
    assert result.outs["primary_version"] == "9.4.16" and result.outs["primary_ssh_port"] == 7999
    lines = result.outs["properties"].splitlines()
    assert lines == [
        "setup.displayName=Sydney",
        f"setup.baseUrl={BASE}",
        f"plugin.mirroring.upstream.url={emu.primary_url}",
        "plugin.mirroring.upstream.type=server",
    ]
    paths = {r.path for r in emu.log}
    assert {
        "/rest/api/latest/application-properties",
        "/rest/ssh/latest/settings",
        "/rest/api/latest/admin/license",
    } <= paths


def test_old_primary_is_refused(emu, setup_provider):
    emu.state.version = "8.19.3"
    with pytest.raises(PreflightError, match="8.19.3.*9.0 and newer"):
        setup_provider.create(props(emu))


def test_primary_without_ssh_is_refused(emu, setup_provider):
    emu.state.ssh_enabled = False
    with pytest.raises(PreflightError, match="SSH is disabled"):
        setup_provider.create(props(emu))


def test_primary_without_data_center_licence_is_refused(emu, setup_provider):
    emu.state.licensed_dc = False
    with pytest.raises(PreflightError, match="no Data Center licence"):
        setup_provider.create(props(emu))


def test_unreadable_licence_is_reported_not_fatal(emu, make, capsys):
    from providers.mirror_setup import MirrorSetupProvider
    from twin.emulator.state import User

    emu.state.users["admin"] = User(emu.state.users["admin"].password, sys_admin=False)
    result = make(MirrorSetupProvider).create(props(emu))
    assert result.outs["primary_version"] == "9.4.16"
    assert "could not read the licence" in capsys.readouterr().err


def test_check_names_each_bad_property(setup_provider):
    result = setup_provider.check(
        {}, {"primary_url": "http://p.example.com", "display_name": "two\nlines", "base_url": "https://bad_host"}
    )
    assert {f.property for f in result.failures} == {"primary_url", "display_name", "base_url"}
    assert (
        setup_provider.check({}, {"primary_url": UNKNOWN, "display_name": UNKNOWN, "base_url": UNKNOWN}).failures == []
    )


def test_setup_keys_replace_and_ca_bundle_updates(emu, setup_provider):
    old = props(emu)
    assert setup_provider.diff("x", old, {**old, "base_url": BASE + "/"}).changes is False
    for key, value in (
        ("display_name", "Sydney 2"),
        ("base_url", "https://other.example.com"),
        ("primary_url", "https://primary2.example.com"),
        ("base_url", UNKNOWN),
    ):
        diff = setup_provider.diff("x", old, {**old, key: value})
        assert diff.changes and diff.replaces == [key]
    diff = setup_provider.diff("x", old, {**old, "ca_bundle": None})
    assert diff.changes and diff.replaces == []


def test_read_refreshes_the_primary_facts(emu, setup_provider):
    created = setup_provider.create(props(emu))
    emu.state.ssh_port = 7998
    read = setup_provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs["primary_ssh_port"] == 7998


def test_update_re_preflights_with_the_new_trust(emu, setup_provider):
    created = setup_provider.create(props(emu))
    updated = setup_provider.update(created.id, created.outs, props(emu, ca_bundle=emu.ca_pem + "\n"))
    assert updated.outs["properties"] == created.outs["properties"]
    assert [r.path for r in emu.log].count("/rest/api/latest/application-properties") == 2


@pytest.mark.parametrize("name", ["two\nlines", "Syd\rney", "   "])
def test_check_refuses_a_display_name_bitbucket_cannot_take(setup_provider, emu, name):
    failures = setup_provider.check({}, props(emu, display_name=name)).failures
    assert [f.property for f in failures] == ["display_name"]


def test_a_display_name_starting_with_a_space_keeps_it(emu, setup_provider):
    # java.util.Properties drops whitespace before a value: the leading space is escaped, so the
    # mirror's setup.displayName is " Sydney", as configured (and as its request will name it).
    assert setup_provider.check({}, props(emu, display_name=" Sydney")).failures == []
    lines = setup_provider.create(props(emu, display_name=" Sydney")).outs["properties"].splitlines()
    assert lines[0] == "setup.displayName=\\ Sydney"
    key, _, value = lines[0].partition("=")
    as_java_reads_it = value.lstrip(" \t\f").replace("\\ ", " ")
    assert (key, as_java_reads_it) == ("setup.displayName", " Sydney")
    # Only the first character needs it: inner spaces are kept by Java as they are.
    assert render_setup_block("Syd ney", BASE, emu.primary_url).splitlines()[0] == "setup.displayName=Syd ney"
