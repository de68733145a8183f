"""Credentials reach the providers only through configure(), and never leave them."""

from __future__ import annotations

import pickle

import dill
import pytest

from providers.credentials import MissingCredentials
from providers.mirror_approval import MirrorApprovalProvider
from providers.mirror_setup import MirrorSetupProvider
from providers.mirrored_projects import MirroredProjectsProvider

from .conftest import PASSWORD, configure


@pytest.mark.parametrize("kind", [MirrorSetupProvider, MirrorApprovalProvider, MirroredProjectsProvider])
def test_a_configured_provider_pickles_without_the_password(emu, kind):
    provider = configure(kind(), emu)
    assert provider.credentials().password == PASSWORD
    for blob in (dill.dumps(provider, recurse=True), pickle.dumps(provider)):
        assert PASSWORD.encode() not in blob
    assert PASSWORD not in repr(provider.credentials())
    restored = dill.loads(dill.dumps(provider, recurse=True))
    with pytest.raises(MissingCredentials):
        restored.credentials()  # a restored provider must be configured again


def test_environment_overrides_the_stack_config(emu, monkeypatch):
    provider = configure(MirrorSetupProvider(), emu, password="stale-password")
    monkeypatch.setenv("BITBUCKET_PASSWORD", PASSWORD)
    configure(provider, emu, password="stale-password")
    assert provider.credentials().password == PASSWORD


def _configured(values: dict):
    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    provider = MirrorApprovalProvider()
    provider.configure(ConfigureRequest(Config(values, "bitbucket-mirrors")))
    return provider


def test_missing_credentials_name_the_key_and_the_variable(emu):
    provider = _configured({"bitbucket-mirrors:primary": '{"url": "https://p.example.com", "username": "admin"}'})
    with pytest.raises(MissingCredentials, match="primaryPassword.*BITBUCKET_PASSWORD") as caught:
        provider.credentials()
    assert "3.139.0" not in str(caught.value)  # the config arrived: the CLI is not the problem


def test_an_engine_that_sent_no_config_is_named_as_the_cause():
    provider = _configured({})
    with pytest.raises(MissingCredentials, match="no stack configuration.*3\\.139\\.0.*BITBUCKET_USERNAME"):
        provider.credentials()


def test_missing_credentials_do_not_fail_preview_calls():
    provider = _configured({})
    news = {"primary_url": "https://p.example.com", "base_url": "https://m.example.com", "timeout_s": 60}
    assert provider.check({}, news).failures == []
    assert provider.diff("id", news, news).changes is False


def test_provider_failures_never_show_the_password(emu, make):
    from twin.emulator.state import User

    emu.state.users["admin"] = User("rotated", sys_admin=True)
    for kind, props in (
        (
            MirrorSetupProvider,
            {
                "primary_url": emu.primary_url,
                "display_name": "x",
                "base_url": "https://m.example.com",
                "ca_bundle": emu.ca_pem,
            },
        ),
    ):
        with pytest.raises(Exception) as caught:
            make(kind).create(props)
        assert "401" in str(caught.value) and PASSWORD not in str(caught.value)
