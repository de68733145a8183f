"""Fixtures: a fresh emulator per test, and providers configured as the engine would configure them."""

from __future__ import annotations

import json
from typing import Callable

import pytest
from moto import mock_aws
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from providers.mirror_approval import MirrorApprovalProvider
from providers.mirror_setup import MirrorSetupProvider
from providers.mirrored_projects import MirroredProjectsProvider
from twin.emulator import Emulator

PASSWORD = "pw-Hunter2-never-shown"


@pytest.fixture(autouse=True)
def no_credentials_from_environment(monkeypatch):
    monkeypatch.delenv("BITBUCKET_USERNAME", raising=False)
    monkeypatch.delenv("BITBUCKET_PASSWORD", raising=False)


@pytest.fixture
def moto_env(monkeypatch):
    """moto's AWS, with nothing of the machine's own AWS setup in the way: fake credentials, no
    endpoint or profile, and no default AMIs (they are slow to load and no test needs them)."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield


@pytest.fixture
def modelled(monkeypatch) -> list[float]:
    """Modelled time for the providers' waits (providers.clock): [now], which only their sleeps move."""
    from providers import clock

    now = [0.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    monkeypatch.setattr(clock, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    return now


@pytest.fixture
def emu():
    with Emulator(password=PASSWORD) as emulator:
        yield emulator


def configure(provider, emu: Emulator, username: str = "admin", password: str = PASSWORD):
    provider.configure(
        ConfigureRequest(
            Config(
                {
                    "bitbucket-mirrors:primaryPassword": password,
                    "bitbucket-mirrors:primary": json.dumps({"url": emu.primary_url, "username": username}),
                },
                "bitbucket-mirrors",
            )
        )
    )
    # Production waits seconds between polls; tests need the same logic faster.
    provider.poll_interval_s = 0.05
    provider.backoff_s = 0.01
    return provider


@pytest.fixture
def make(emu) -> Callable:
    def factory(kind, **kwargs):
        return configure(kind(), emu, **kwargs)

    return factory


@pytest.fixture
def approval(make) -> MirrorApprovalProvider:
    return make(MirrorApprovalProvider)


@pytest.fixture
def setup_provider(make) -> MirrorSetupProvider:
    return make(MirrorSetupProvider)


@pytest.fixture
def projects(make) -> MirroredProjectsProvider:
    return make(MirroredProjectsProvider)


def approved_mirror(emu: Emulator, name: str = "syd"):
    """A mirror registered and accepted on the primary, as after MirrorApproval."""
    mirror = emu.add_mirror(name)
    emu.state.tick()
    assert emu.state.accept(mirror.request_id) is not None
    return mirror
