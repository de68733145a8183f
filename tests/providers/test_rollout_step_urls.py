"""The rollout's steps talk to the mirror's base URL like the other providers do: https only,
refused at preview naming the input, before any step runs."""

from __future__ import annotations

import pytest

from providers.node_rollout import (
    InstanceStartReturnProvider,
    InstanceStopDrainProvider,
    NodeDrainProvider,
    NodeReturnProvider,
)
from providers.upgrade import UpgradeFinishProvider, UpgradeWindowProvider

STEPS = [
    UpgradeWindowProvider,
    UpgradeFinishProvider,
    NodeDrainProvider,
    NodeReturnProvider,
    InstanceStopDrainProvider,
    InstanceStartReturnProvider,
]
INPUTS = {"node": "syd-node0", "nodes": 2, "version": "9.4.16", "version_key": "mirrors[0].bitbucketVersion"}


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.__name__)
@pytest.mark.parametrize(
    "url", ["http://mirror.example.com", "https://user:secret@mirror.example.com", "ftp://mirror.example.com"]
)
def test_every_rollout_step_refuses_a_mirror_url_that_is_not_plain_https(step, url):
    failures = step().check({}, {**INPUTS, "mirror_url": url}).failures
    assert [f.property for f in failures] == ["mirror_url"]
    assert "https" in failures[0].reason and "secret" not in failures[0].reason


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.__name__)
def test_an_https_mirror_url_passes(step):
    assert step().check({}, {**INPUTS, "mirror_url": "https://mirror.example.com"}).failures == []
