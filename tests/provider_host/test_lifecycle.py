"""up, refresh and destroy of one site's provider chain, through Pulumi's own provider host.

Each phase uses a fresh `python -m pulumi.dynamic` process, configured as the engine configures
it, fed the properties the SDK registered (the pickled provider among them): what `pulumi up`,
`pulumi refresh` and `pulumi destroy` do, against the emulated primary and mirror.
"""

from __future__ import annotations

import base64
import pickletools
from pathlib import Path

import grpc
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import proto

from providers.backup import HomeBackup, HomeBackupProvider
from providers.farm_rollout import (
    InstanceStartReturn,
    InstanceStartReturnProvider,
    InstanceStopDrain,
    InstanceStopDrainProvider,
    NodeDrain,
    NodeDrainProvider,
    NodeReturn,
    NodeReturnProvider,
    UpgradeFinish,
    UpgradeFinishProvider,
    UpgradeWindow,
    UpgradeWindowProvider,
)
from providers.instance_change import InstanceModification, InstanceModificationProvider
from providers.mirror_approval import MirrorApproval, MirrorApprovalProvider
from providers.mirror_generation import MirrorGeneration, MirrorGenerationProvider
from providers.mirror_setup import MirrorSetup, MirrorSetupProvider
from providers.mirrored_projects import MirroredProjects, MirroredProjectsProvider
from providers.os_refresh import RootVolumeReplacement, RootVolumeReplacementProvider
from tests.harness import ROOT
from twin.provider_host import registration
from twin.provider_host.engine import ResourceState
from twin.provider_host.registration import registered, site, up

from .conftest import PASSWORD

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def stack_config(emu, mirror_url: str) -> dict:
    return registration.stack_config(emu, PASSWORD, mirror_url)


def test_up_then_refresh_then_destroy_from_fresh_hosts(emu, start_host):
    emu.add_project("PLAT")
    emu.add_project("OPS")
    mirror = emu.add_mirror("syd", register_after_s=0.5)
    resources = registered([site(emu, "syd", mirror.url, ["PLAT"])])

    engine = start_host()
    engine.configure(stack_config(emu, mirror.url))
    states = up(engine, resources)
    assert states["approval"].id == mirror.mirror_id
    assert mirror.mirror_id in emu.state.mirror_servers
    assert f"setup.baseUrl={mirror.url}" in states["setup"].outputs["properties"]
    assert mirror.project_ids == {emu.state.projects["PLAT"].id}
    # A second `up` with the same program: every diff says nothing changed.
    for name, state in states.items():
        assert engine.diff(state, state.inputs).changes == proto.DiffResponse.DIFF_NONE, name

    # Someone mirrors OPS by hand; `pulumi refresh` (a fresh host, state only) sees it.
    mirror.project_ids.add(emu.state.projects["OPS"].id)
    refresher = start_host()
    refresher.configure(stack_config(emu, mirror.url))
    refreshed = {name: refresher.read(state) for name, state in states.items()}
    assert refreshed["approval"].id == mirror.mirror_id
    assert refreshed["projects"].outputs["project_keys"] == ["OPS", "PLAT"]

    # `pulumi destroy`: another fresh host, reverse dependency order; the mirror leaves the primary.
    destroyer = start_host()
    destroyer.configure(stack_config(emu, mirror.url))
    for name in ("projects", "approval", "setup"):
        destroyer.delete(states[name])
    assert emu.state.mirror_servers == {}
    assert emu.state.projects["PLAT"].id not in mirror.project_ids


def test_refresh_of_a_mirror_removed_on_the_primary_reports_it_gone(emu, start_host):
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, [])])
    engine = start_host()
    engine.configure(stack_config(emu, mirror.url))
    states = up(engine, resources)
    emu.remove_mirror_server(mirror.mirror_id)
    refresher = start_host()
    refresher.configure(stack_config(emu, mirror.url))
    assert refresher.read(states["approval"]) is None


def test_preview_with_unknown_values_checks_and_diffs_without_credentials(emu, start_host):
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, ["PLAT"])])
    engine = start_host()
    engine.configure({})  # preview needs no credentials: nothing is called on Bitbucket
    projects = resources["syd-projects"]
    news = {**projects["news"], "mirror_id": UNKNOWN}
    inputs, failures = engine.check(projects["urn"], news)
    assert failures == []
    old = ResourceState(projects["urn"], "old-id", {**news, "mirror_id": "OLD"}, {**news, "mirror_id": "OLD"})
    diff = engine.diff(old, inputs)
    assert diff.changes == proto.DiffResponse.DIFF_SOME and "mirror_id" in diff.replaces


def test_check_failures_reach_the_engine_by_property(emu, start_host):
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, ["PLAT"])])
    engine = start_host()
    engine.configure(stack_config(emu, mirror.url))
    setup = resources["syd-setup"]
    _, failures = engine.check(setup["urn"], {**setup["news"], "base_url": "http://mirror.example.com"})
    assert [prop for prop, _ in failures] == ["base_url"]


def test_an_engine_that_sends_no_config_gets_told_to_upgrade_the_cli(emu, start_host):
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, [])])
    engine = start_host()
    engine.configure({})
    setup = resources["syd-setup"]
    inputs, _ = engine.check(setup["urn"], setup["news"])
    with pytest.raises(grpc.RpcError) as caught:
        engine.create(setup["urn"], inputs)
    details = caught.value.details()
    assert "received no stack configuration" in details and "3.139.0" in details
    assert "BITBUCKET_USERNAME" in details
    assert emu.requests_to("primary") == []  # nothing was tried without credentials


def test_a_host_started_outside_the_project_root_cannot_load_the_providers(emu, start_host, tmp_path):
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, [])])
    engine = start_host(cwd=tmp_path)
    engine.configure(stack_config(emu, mirror.url))
    setup = resources["syd-setup"]
    with pytest.raises(grpc.RpcError) as caught:
        engine.check(setup["urn"], setup["news"])
    # The engine shows this traceback's last line: the project's `providers` package is what the
    # host could not import, which README's troubleshooting section maps to its fix.
    assert "No module named 'providers'" in caught.value.details()
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert (
        "answers `ModuleNotFoundError: No module named 'providers'`: that means the directory or the "
        "virtualenv is not this project's"
    ) in readme


def test_the_password_never_leaves_the_host(emu, start_host):
    emu.add_project("PLAT")
    mirror = emu.add_mirror("syd")
    resources = registered([site(emu, "syd", mirror.url, ["PLAT"])])
    engine = start_host()
    engine.configure(stack_config(emu, mirror.url))
    states = up(engine, resources)
    assert PASSWORD not in repr([s.outputs for s in states.values()])
    assert PASSWORD not in engine.host.stderr
    for state in states.values():  # what state stores: the provider pickle holds no credentials
        assert PASSWORD.encode() not in base64.b64decode(state.outputs["__provider"])


# State records each provider by import path (the SDK pickles classes by reference): renaming a
# module or class without an alias breaks `pulumi refresh` and `pulumi destroy` of every stack.
PINNED = {
    MirrorSetup: (MirrorSetupProvider, "providers.mirror_setup", "MirrorSetupProvider"),
    MirrorApproval: (MirrorApprovalProvider, "providers.mirror_approval", "MirrorApprovalProvider"),
    MirroredProjects: (MirroredProjectsProvider, "providers.mirrored_projects", "MirroredProjectsProvider"),
    MirrorGeneration: (MirrorGenerationProvider, "providers.mirror_generation", "MirrorGenerationProvider"),
    UpgradeWindow: (UpgradeWindowProvider, "providers.upgrade", "UpgradeWindowProvider"),
    UpgradeFinish: (UpgradeFinishProvider, "providers.upgrade", "UpgradeFinishProvider"),
    NodeDrain: (NodeDrainProvider, "providers.node_rollout", "NodeDrainProvider"),
    NodeReturn: (NodeReturnProvider, "providers.node_rollout", "NodeReturnProvider"),
    InstanceStopDrain: (InstanceStopDrainProvider, "providers.node_rollout", "InstanceStopDrainProvider"),
    InstanceStartReturn: (InstanceStartReturnProvider, "providers.node_rollout", "InstanceStartReturnProvider"),
    HomeBackup: (HomeBackupProvider, "providers.backup", "HomeBackupProvider"),
    RootVolumeReplacement: (RootVolumeReplacementProvider, "providers.os_refresh", "RootVolumeReplacementProvider"),
    InstanceModification: (InstanceModificationProvider, "providers.instance_change", "InstanceModificationProvider"),
}
# Where stacks created before the rollout providers were split recorded them.
EARLIER = {
    "providers.farm_rollout": [
        "UpgradeWindowProvider",
        "UpgradeFinishProvider",
        "NodeDrainProvider",
        "NodeReturnProvider",
        "InstanceStopDrainProvider",
        "InstanceStartReturnProvider",
    ]
}


@pytest.mark.parametrize("resource", list(PINNED), ids=lambda r: r.__name__)
def test_provider_import_paths_are_pinned(resource):
    provider_class, module, name = PINNED[resource]
    pickled = base64.b64decode(serialize_provider(provider_class()))
    strings = [arg for op, arg, _ in pickletools.genops(pickled) if op.name in ("SHORT_BINUNICODE", "BINUNICODE")]
    assert strings[:2] == [module, name]  # by reference: module and class name, no code
    assert (provider_class.__module__, provider_class.__qualname__) == (module, name)
    assert resource._resource_type_name == f"dynamic/bitbucket:{resource.__name__}"
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()


def test_the_import_paths_earlier_stacks_recorded_still_name_the_same_providers():
    import importlib
    import pickle

    import dill

    current = {cls.__name__: cls for cls, _, _ in PINNED.values()}
    for module, names in EARLIER.items():
        for name in names:
            found = getattr(importlib.import_module(module), name)
            assert found is current[name]
            # What the SDK unpickles from such a state: the module and class by reference.
            recorded = pickle.dumps(found, protocol=0).replace(found.__module__.encode(), module.encode())
            assert module.encode() in recorded and dill.loads(recorded) is found


def test_a_new_first_node_home_replaces_the_approval_in_one_up(emu, start_host):
    # A site moved to another region, or rebuilt for a new display name: new hosts, a new home,
    # so a new mirror registers under the same base URL. One `up` removes the old mirror from the
    # primary and approves the new one.
    # One base URL (a front door) that reaches whichever mirror the site runs: each says its own
    # Server ID there, which is what ties its request.
    serving = {}
    base_url = emu.add_front_door("syd", lambda: serving.get("mirror"))
    old_mirror = emu.add_mirror("syd-old", base_url=base_url, serve=False)
    serving["mirror"] = (old_mirror, old_mirror.farm_nodes[0].address)
    before = registered([site(emu, "syd", base_url, [], homeZone="ap-southeast-2a")])["syd-approval"]
    engine = start_host()
    engine.configure(stack_config(emu, base_url))
    inputs, _ = engine.check(before["urn"], before["news"])
    old_state = engine.create(before["urn"], inputs)
    assert old_state.id == old_mirror.mirror_id

    new_mirror = emu.add_mirror("syd-new", base_url=base_url, register_after_s=0.5, serve=False)
    serving["mirror"] = (new_mirror, new_mirror.farm_nodes[0].address)
    after = registered([site(emu, "syd", base_url, [], homeZone="ap-southeast-2b")])["syd-approval"]
    second = start_host()
    second.configure(stack_config(emu, base_url))
    news, _ = second.check(after["urn"], after["news"], olds=old_state.inputs)
    diff = second.diff(old_state, news)
    assert list(diff.replaces) == ["home_zone"] and diff.deleteBeforeReplace
    second.delete(old_state)  # delete-before-replace, as the engine orders it
    new_state = second.create(after["urn"], news)
    assert new_state.id == new_mirror.mirror_id
    assert set(emu.state.mirror_servers) == {new_mirror.mirror_id}
