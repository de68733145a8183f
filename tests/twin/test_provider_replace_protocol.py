"""Every dynamic provider whose Check reads olds is right under the engine's replacement protocol
(issue #28 item 1): Check with olds, Diff, and on a replacement Check again with NO olds, whose
inputs Create receives (pulumi/pulumi step_generator.go, twin/engine_rules.py SOURCES["recheck"]).
Played through the twin's engine decisions and the SDK's host code (tests/twin/replay.py).

The providers whose `check` reads olds (grep `def check` in providers/): MirrorGeneration (the
generation), UpgradeWindow (the versions installed, the impact), NodeDrain and InstanceStopDrain
(a warning), RootVolumeReplacement (a message), InstanceModification (a refusal across CPU
architectures)."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider

from providers.instance_change import InstanceModificationProvider
from providers.mirror_generation import MirrorGenerationProvider
from providers.node_rollout import InstanceStopDrainProvider, NodeDrainProvider
from providers.os_refresh import RootVolumeReplacementProvider
from providers.upgrade import UpgradeWindowProvider
from tests.twin.replay import Replay
from twin import engine_state
from twin.dynamic_host import DynamicHost

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SITE = {
    "display_name": "Sydney",
    "base_url": "https://mirror-syd.example.com",
    "primary_url": "https://bitbucket.example.com",
    "mirror_all": False,
    "kms_key_arn": None,
    "config_key": "mirrors[0]",
    "warn_to": None,
    "generation": None,  # MirrorGeneration's own output, registered unknown-as-None
}


@pytest.mark.parametrize(
    "changes",
    [
        [{"mirror_all": True}, {"mirror_all": False}],  # mirrorAll false -> true -> false
        [{"display_name": "Sydney B"}, {"display_name": "Sydney"}],  # displayName A -> B -> A
        [{"display_name": "B"}, {"display_name": "Sydney"}, {"display_name": "B"}],
    ],
    ids=["mirror-all-round-trip", "display-name-round-trip", "display-name-there-and-back-twice"],
)
def test_a_generation_is_never_reused_and_the_preview_promises_what_the_up_records(changes):
    replay = Replay(MirrorGenerationProvider(), "syd-generation")
    seen = [replay.up(dict(SITE)).recorded["generation"]]
    values = dict(SITE)
    played = []
    for change in changes:
        values = {**values, **change}
        played.append(replay.up(values))
        seen.append(played[-1].recorded["generation"])
    rebuilds = [i for i, c in enumerate(changes) if c != {"mirror_all": True}]
    # Every rebuild a new generation, never one seen before; selected -> all keeps it.
    for i in rebuilds:
        assert seen[i + 1] not in seen[: i + 1]
    if changes[0] == {"mirror_all": True}:
        assert seen[1] == seen[0]
        assert len(set(seen)) == 2
    else:
        assert len(set(seen)) == len(seen)
    for step in played:
        assert step.promised["generation"] == step.recorded["generation"]
        assert step.operation == "update"  # a replacement's Check has no olds: no generation before


def test_a_generation_recorded_by_an_earlier_release_goes_on_to_a_new_one():
    # A state whose generation was its id and whose inputs lack it (before Check derived it).
    replay = Replay(MirrorGenerationProvider(), "syd-generation")
    first = replay.up(dict(SITE))
    assert replay.old is not None
    replay.old.inputs_struct = engine_state.to_struct({k: v for k, v in replay.old.inputs.items() if k != "generation"})
    played = replay.up({**SITE, "display_name": "Sydney B"})
    assert played.promised["generation"] == played.recorded["generation"] != first.recorded["generation"]


def _host_check(provider: Any, olds: dict, news: dict) -> dict:
    host = DynamicHost({}, ())
    serialized = serialize_provider(provider)
    old_struct, new_struct = struct_pb2.Struct(), struct_pb2.Struct()
    if olds:
        old_struct.update({**olds, "__provider": serialized})
    new_struct.update({**news, "__provider": serialized})
    response = host.check("urn:pulumi:twin::p::t::n", old_struct, new_struct)
    assert not response.failures
    return {k: v for k, v in engine_state.plain(response.inputs).items() if k != "__provider"}


NODE = {
    "region": "ap-southeast-2",
    "instance_id": "i-0abc",
    "target_groups": [{"arn": "arn:tg", "port": 7990}],
    "install_digest": "d1",
    "node": "syd-node-0",
    "nodes": 1,
    "version": "9.4.1",
    "os_image": "",
}
STOP = {
    "region": "ap-southeast-2",
    "target_groups": [],
    "node": "syd-node-0",
    "instance_type": "m6i.xlarge",
    "user_data_digest": "u1",
    "nodes": 1,
}
ROOT = {
    "region": "ap-southeast-2",
    "instance_id": "i-0abc",
    "image_id": "ami-new",
    "os_image": "al2023",
    "node": "syd-node-0",
    "nodes": 1,
}


@pytest.mark.parametrize(
    "provider, olds, change",
    [
        (NodeDrainProvider(), NODE, {"install_digest": "d2"}),
        (InstanceStopDrainProvider(), STOP, {"instance_type": "m6i.2xlarge"}),
        (RootVolumeReplacementProvider(), {**ROOT, "os_image": ""}, {"os_image": "al2023"}),
    ],
    ids=["NodeDrain", "InstanceStopDrain", "RootVolumeReplacement"],
)
def test_a_check_that_reads_olds_only_to_warn_gives_the_same_inputs_without_them(
    monkeypatch, capsys, provider, olds, change
):
    monkeypatch.setattr(RootVolumeReplacementProvider, "running_image", staticmethod(lambda props: "ami-old"))
    news = {**olds, **change}
    with_olds = _host_check(provider, olds, news)
    assert capsys.readouterr().err  # the olds made it warn (or say): they were read
    # A replacement's Check (no olds) gives Create exactly what the preview's Check showed.
    assert _host_check(provider, {}, news) == with_olds
    # And it is never replaced, whatever is unknown at preview.
    unknown = {k: UNKNOWN for k in news}
    assert provider.diff("id", olds, unknown).replaces == []


def test_the_upgrade_window_reads_olds_so_it_is_never_replaced():
    """Its Check without olds records nothing installed: a replacement would lose what the nodes run.
    Its diff never asks for one, so the engine never Checks it again with no olds."""
    provider = UpgradeWindowProvider()
    news = {"mirror_url": "https://mirror-syd.example.com", "version": "9.4.2", "version_key": "k", "farm": True}
    assert _host_check(provider, {}, news)["installed"] == []
    olds = {**news, "version": "9.4.1", "installed": ["9.4.1"]}
    for change in ({"version": "9.5.0"}, {"farm": False}, {"mirror_url": "https://other.example.com"}):
        assert provider.diff("id", olds, {**news, **change}).replaces == []
    assert provider.diff("id", olds, {k: UNKNOWN for k in news}).replaces == []


CHANGE = {
    "region": "ap-southeast-2",
    "instance_id": "i-0abc",
    "instance_type": "m6i.xlarge",
    "user_data": "#cloud-config\n",
    "user_data_digest": "u1",
    "node": "syd-node-0",
    "address": "203.0.113.7",
}


def test_the_instance_modification_reads_olds_only_to_refuse_and_is_never_replaced():
    """Its Check reads olds only to refuse another CPU architecture: an allowed change Checks to the
    same inputs with or without olds (what a replacement's Create would get), and its diff never
    asks for a replacement, so the engine never Checks it again with no olds."""
    provider = InstanceModificationProvider()
    for change in ({"instance_type": "m6i.2xlarge"}, {"user_data_digest": "u2"}, {"instance_id": "i-0def"}):
        news = {**CHANGE, **change}
        assert _host_check(provider, {}, news) == _host_check(provider, CHANGE, news)
        diff = provider.diff("id", CHANGE, news)
        assert diff.changes is True and diff.replaces == []
    assert provider.diff("id", CHANGE, {k: UNKNOWN for k in CHANGE}).replaces == []
    # What never decides an update: its name, its timeout, the address it was given.
    assert provider.diff("id", CHANGE, {**CHANGE, "node": "n", "timeout_s": 5, "address": "x"}).changes is False
