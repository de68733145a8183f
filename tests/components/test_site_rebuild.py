"""Changes only a new mirror can take (display name, base URL, primary URL, leaving mirror-all)
rebuild exactly that site: a new generation goes into every node's files, whose install empties a
home of another generation so Bitbucket starts on it with the new setup; every node stops first
(nodes of two mirrors cannot form one farm); the approval follows the generation. The volumes stay:
nothing is detached, no instance stops (the twin's rebuild scenarios play it through)."""

from __future__ import annotations

import json

import pytest

from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import APPROVAL, ATTACHMENT, GENERATION, VOLUME

STACK = STACKS / "three-regions.yaml"


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


def test_every_node_of_a_site_belongs_to_its_generation_and_its_homes_carry_none(before):
    generations = {g.name.removesuffix("-generation"): g.outputs["generation"] for g in before.of_type(GENERATION)}
    for volume in before.of_type(VOLUME):
        assert "bitbucket-mirrors:generation" not in volume.inputs["tags"]
        assert volume.options["replaceOnChanges"] == []
    for stop in [r for r in before.resources if r.name.endswith("-stop-for-upgrade")]:
        site = stop.name.split("-")[0]
        assert stop.inputs["triggers"][1] == generations[site]
        assert stop.inputs["create"] == f"sudo bash -s -- --stop-for-upgrade {generations[site]}"
    for approval in before.of_type(APPROVAL):
        assert approval.inputs["generation"] == generations[approval.name.split("-")[0]]
    for attachment in before.of_type(ATTACHMENT):
        assert attachment.options["deleteBeforeReplace"] is True  # the device is free before a new home attaches


@pytest.mark.parametrize(
    "fields",
    [{"displayName": "Frankfurt farm"}, {"baseUrl": "https://mirror-de.example.com"}],
    ids=["displayName", "baseUrl"],
)
def test_a_setup_change_rebuilds_only_that_site(before, fields):
    after = changed(1, **fields)  # fra, the farm
    names = changed_names(before, after)
    assert {f"fra-node{i}-{step}" for i in range(3) for step in ("stage", "install", "stop-for-upgrade")} <= names
    assert not {n for n in names if n.endswith("-home") or n.endswith("-instance")}
    assert all(not n.startswith(("syd", "pdx")) for n in names)


def test_turning_mirror_all_on_rebuilds_nothing(before):
    after = changed(0, mirrorAll=True, projects=[])
    assert not {n for n in changed_names(before, after) if n.endswith(("-install", "-stage", "-home"))}


def test_the_generation_sees_the_values_bitbucket_fixes_at_setup(before):
    generation = before.one(GENERATION, "fra-generation")
    assert {k: v for k, v in generation.inputs.items() if k not in ("__provider", "warn_to")} == {
        "display_name": "fra",
        "base_url": "https://mirror-fra.example.com",
        "primary_url": "https://bitbucket.example.com",
        "mirror_all": False,
        "config_key": "mirrors[1]",
    }


def test_a_rebuild_replaces_the_generation_create_before_delete(before):
    # What the provider's diff decides (tests/providers/test_mirror_generation.py) holds only if
    # the site does not ask the engine for delete-before-replace itself.
    for generation in before.of_type(GENERATION):
        assert generation.options["deleteBeforeReplace"] is False
