"""The twin's engine decides as pulumi/pulumi's does (twin/engine_rules.py cites each source line):
a replacement Checks again with no olds, a diff without changes is a Same step whatever its replace
keys, deleteBeforeReplace overrides the provider, ignoreChanges resets by property path, and the
default parallelism is 4 x the deployer's cores unless PULUMI_PARALLEL says otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

from tests.twin.replay import Replay
from twin import engine_rules, rules
from twin.engine import Engine
from twin.rule_table import TypeRules


class Counting(ResourceProvider):
    """A provider whose Check derives `stamp` from its olds (the hazard the engine's second Check exposes)."""

    def __init__(self, changes: bool = True, dbr: bool = False) -> None:
        self.changes, self.dbr = changes, dbr

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, "stamp": f"after-{olds['stamp']}" if olds else "fresh"}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["x"] if olds.get("x") != news.get("x") else []
        others = any(olds.get(k) != news.get(k) for k in news if k not in ("stamp", "__provider"))
        return DiffResult(changes=self.changes and others, replaces=replaces, delete_before_replace=self.dbr)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"id-{props['x']}", dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(news))


def test_a_replacement_checks_again_with_no_olds_and_create_gets_those_inputs():
    replay = Replay(Counting())
    assert replay.up({"x": 1}).recorded["stamp"] == "fresh"
    played = replay.up({"x": 2})
    assert played.operation == "replace"
    # The first Check (with olds) said "after-fresh"; the replacement's Check, with no olds, "fresh":
    # Create receives that, and so does the preview (Create(Preview) hands back those inputs).
    assert played.recorded["stamp"] == "fresh"
    assert played.promised["stamp"] == "fresh"


def test_a_diff_without_changes_is_a_same_step_even_with_replace_keys():
    replay = Replay(Counting(changes=False))
    replay.up({"x": 1})
    played = replay.up({"x": 2})
    assert played.operation == "same"
    assert played.recorded["x"] == 1  # nothing was created: the old resource stands
    assert engine_rules.diff_operation(engine_rules.DIFF_NONE, True, True) == "same"
    assert engine_rules.diff_operation(engine_rules.DIFF_SOME, True, True) == "replace"
    # DiffUnknown: the inputs decide whether there are changes.
    assert engine_rules.diff_operation(engine_rules.DIFF_UNKNOWN, True, False) == "same"
    assert engine_rules.diff_operation(engine_rules.DIFF_UNKNOWN, False, True) == "update"
    # A pending replacement is replaced whatever its diff says.
    assert engine_rules.diff_operation(engine_rules.DIFF_NONE, False, False, pending_replacement=True) == "replace"


def test_a_native_replace_key_without_a_change_is_same(monkeypatch):
    always = TypeRules(frozenset(), frozenset({"a"}), "test", conditional=(("always", lambda o, n: True, "t"),))
    monkeypatch.setitem(rules.RULES, "test:index:Thing", always)
    assert rules.decide("test:index:Thing", {"a": 1}, {"a": 1}).operation == "same"
    assert rules.decide("test:index:Thing", {"a": 1}, {"a": 2}).operation == "replace"


@pytest.mark.parametrize(
    "provider_says, option, deletes_first",
    [(True, False, False), (False, True, True), (True, None, True), (False, None, False)],
)
def test_the_delete_before_replace_option_overrides_the_provider(provider_says, option, deletes_first):
    replay = Replay(Counting(dbr=provider_says))
    replay.up({"x": 1}, dbr=option)
    assert replay.up({"x": 2}, dbr=option).delete_before_replace is deletes_first


def test_the_delete_before_replace_option_overrides_a_native_rule():
    # A type its rule deletes first (an explicitly named one); the option set false wins.
    typ = next(t for t, r in rules.RULES.items() if r.delete_before_replace and r.replace)
    key = sorted(rules.RULES[typ].replace)[0].split(".")[0]
    old, new = {key: "a"}, {key: "b"}
    assert rules.decide(typ, old, new).delete_before_replace is True
    assert rules.decide(typ, old, new, delete_before_replace=False).delete_before_replace is False


@pytest.mark.parametrize(
    "path, old, new, reset",
    [
        (
            "tags.Name",
            {"tags": {"Name": "a", "Site": "syd"}},
            {"tags": {"Name": "b", "Site": "fra"}},
            {"tags": {"Name": "a", "Site": "fra"}},
        ),
        (
            'tags["Name"]',
            {"tags": {"Name": "a"}},
            {"tags": {"Name": "b", "New": "x"}},
            {"tags": {"Name": "a", "New": "x"}},
        ),
        (
            "foo[0].bar",
            {"foo": [{"bar": 1, "baz": 1}]},
            {"foo": [{"bar": 2, "baz": 2}]},
            {"foo": [{"bar": 1, "baz": 2}]},
        ),
        ("tags.Name", {"tags": {}}, {"tags": {"Name": "b"}}, {"tags": {}}),  # absent before: absent now
        ("foo[1]", {"foo": [1]}, {"foo": [1, 2]}, {"foo": [1, 2]}),  # an added element cannot be ignored
        ("ami", {"ami": "ami-1", "x": 1}, {"ami": "ami-2", "x": 2}, {"ami": "ami-1", "x": 2}),
    ],
)
def test_ignore_changes_resets_by_property_path(path, old, new, reset):
    assert engine_rules.process_ignore_changes(new, old, [path]) == reset


def test_an_ignored_nested_path_is_no_change_and_its_siblings_still_are():
    typ = "aws:ec2/instance:Instance"
    old = {"instanceType": "m6i.xlarge", "tags": {"Name": "a", "Site": "syd"}}
    assert (
        rules.decide(typ, old, {**old, "tags": {"Name": "b", "Site": "syd"}}, ignore_changes=["tags.Name"]).operation
        == "same"
    )
    changed = rules.decide(typ, old, {**old, "tags": {"Name": "b", "Site": "fra"}}, ignore_changes=["tags.Name"])
    assert changed.operation == "update" and changed.changed == ['tags["Site"]']


def test_a_dynamic_resource_ignores_a_nested_path_before_check():
    replay = Replay(Counting())
    replay.up({"x": 1, "m": {"a": 1, "b": 1}})
    played = replay.up({"x": 1, "m": {"a": 2, "b": 2}}, ignore=("m.a",))
    assert played.promised["m"] == {"a": 1, "b": 2}


def test_default_parallelism_is_four_per_core_unless_pulumi_parallel_says():
    assert engine_rules.DEPLOYER_CPUS == 2
    assert engine_rules.default_parallel({}) == 8
    assert engine_rules.default_parallel({}, cpus=4) == 16
    assert engine_rules.default_parallel({"PULUMI_PARALLEL": "3"}) == 3
    assert engine_rules.default_parallel({"PULUMI_PARALLEL": "0"}) == 8


def test_the_engine_takes_pulumi_parallel_and_an_explicit_parallel_wins(monkeypatch):
    monkeypatch.delenv("PULUMI_PARALLEL", raising=False)
    assert Engine(None, None, None, {}, []).parallel == 8
    monkeypatch.setenv("PULUMI_PARALLEL", "5")
    assert Engine(None, None, None, {}, []).parallel == 5
    assert Engine(None, None, None, {}, [], parallel=3).parallel == 3


def test_every_engine_behaviour_cites_pulumi_pulumi_at_a_commit():
    for key in ("recheck", "same_unless_some", "dbr_override", "ignore_paths", "parallel"):
        assert f"pulumi/pulumi@{engine_rules.PULUMI_COMMIT[:12]}" in engine_rules.SOURCES[key]
        assert rules.ENGINE_SOURCES[key if key != "ignore_paths" else "ignore"] == engine_rules.SOURCES[key]
