"""Changes only a new mirror can take (display name, base URL, primary URL, leaving mirror-all)
rebuild exactly that site: its homes are replaced, so Bitbucket starts on an empty home with the
new setup, and the approval follows the first node's home."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import ProgramRun, run_program, stack_file_config

STACK = Path(__file__).resolve().parents[1] / "stacks" / "three-regions.yaml"
VOLUME = "aws:ebs/volume:Volume"
TAG = "bitbucket-mirrors:generation"


def changed(mirror_index: int, **fields) -> ProgramRun:
    config, secret_keys = stack_file_config(STACK)
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[mirror_index].update(fields)
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    return run_program(config=config, secret_keys=secret_keys)


@pytest.fixture(scope="module")
def before() -> ProgramRun:
    return run_program(STACK)


def changed_names(before: ProgramRun, after: ProgramRun) -> set[str]:
    old = {r.urn: r.inputs for r in before.resources}
    return {r.name for r in after.resources if r.urn in old and r.inputs != old[r.urn]}


def test_every_home_replaces_when_its_sites_generation_changes(before):
    generations = {g.name.removesuffix("-generation"): g.outputs["generation"]
                   for g in before.of_type("pulumi-python:dynamic/bitbucket:MirrorGeneration")}
    for volume in before.of_type(VOLUME):
        site = volume.name.split("-")[0]
        assert volume.inputs["tags"][TAG] == generations[site]
        assert volume.options["replaceOnChanges"] == [f'tags["{TAG}"]']
    for attachment in before.of_type("aws:ec2/volumeAttachment:VolumeAttachment"):
        assert attachment.options["deleteBeforeReplace"] is True   # the device is free before the new home attaches


@pytest.mark.parametrize("fields", [{"displayName": "Frankfurt farm"}, {"baseUrl": "https://mirror-de.example.com"}],
                         ids=["displayName", "baseUrl"])
def test_a_setup_change_rebuilds_only_that_sites_homes(before, fields):
    after = changed(1, **fields)   # fra, the farm
    changed_volumes = {n for n in changed_names(before, after) if n.endswith("-home")}
    assert changed_volumes == {f"fra-node{i}-home" for i in range(3)}
    assert all(not n.startswith(("syd", "pdx")) for n in changed_names(before, after))


def test_turning_mirror_all_on_rebuilds_nothing(before):
    after = changed(0, mirrorAll=True, projects=[])
    assert not {n for n in changed_names(before, after) if n.endswith("-home")}


def test_the_generation_sees_the_values_bitbucket_fixes_at_setup(before):
    generation = before.one("pulumi-python:dynamic/bitbucket:MirrorGeneration", "fra-generation")
    assert {k: v for k, v in generation.inputs.items() if k != "__provider"} == {"display_name": "fra", "base_url": "https://mirror-fra.example.com",
                                 "primary_url": "https://bitbucket.example.com", "mirror_all": False,
                                 "config_key": "mirrors[1]"}
