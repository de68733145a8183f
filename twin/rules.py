"""What the engine does with a changed resource: the twin's rule table applied, each rule with its source.

For the pulumi-aws resources the program uses, which inputs force a replacement and which change
in place (the table itself: twin/rule_table.py, pulumi-aws wrapping terraform-provider-aws); for
pulumi-command's Command, its own rules; and the engine's options (`ignoreChanges`,
`replaceOnChanges`, `deleteBeforeReplace`). An input the table does not know is an error: a new
property in the program must be looked up before the twin will say what its change does.

Dynamic resources are not here: the twin asks their own providers (`check` and `diff`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from . import engine_rules
from .rule_table import COMMAND, COMMAND_IN_PLACE, COMMAND_REPLACE, COMMAND_SOURCE, RULES

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


ENGINE_SOURCES = {
    "order": "pulumi/pulumi pkg/resource/deploy/step_generator.go: create-before-delete by default, the old "
    "resource deleted with the deletes after the program exits (GenerateDeletes)",
    "dbr": "step_generator.go: deleteBeforeReplace deletes the dependents that would be replaced "
    "(calculateDependentReplacements), then the old resource, then creates the new one",
    "deletes": "step_generator.go ScheduleDeletes: antichains in reverse dependency order",
    "pending_replacement": "step_generator.go: a dependent deleted for a delete-before-replace is marked "
    "PendingReplacement (NewDeleteReplacementStep pendingReplace=true); its registration "
    "creates it and deletes nothing",
    "ignore": engine_rules.SOURCES["ignore_paths"],
    "replace_on": "step_generator.go applyReplaceOnChanges: only when the diff has changes",
    "parallel": engine_rules.SOURCES["parallel"],
    "recheck": engine_rules.SOURCES["recheck"],
    "same_unless_some": engine_rules.SOURCES["same_unless_some"],
    "dbr_override": engine_rules.SOURCES["dbr_override"],
    "register": "sdk/python/lib/pulumi/runtime/resource.py prepare_resource: a registration waits for its "
    "depends_on, parent and input Outputs, i.e. for those resources' steps",
}


@dataclass
class Decision:
    """What a registration's step is (same, update, replace), which inputs made it so, and the sources."""

    operation: str  # same | update | replace
    changed: list[str] = field(default_factory=list)
    replace_keys: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    rule_sources: list[str] = field(default_factory=list)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    """A map's entries as the engine's detailed diff names them: `tags["Name"]`, `block.key`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(
                _leaves(v, f'{prefix}["{k}"]' if not str(k).isidentifier() or prefix == "tags" else f"{prefix}.{k}")
            )
        return out
    return {prefix: value}


def changed_properties(type_: str, old: dict, new: dict) -> list[str]:
    """The input paths that differ, down to map entries (`tags["Name"]`) and nested blocks."""
    changed = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("__"):
            continue
        o, n = old.get(key), new.get(key)
        if (isinstance(o, dict) or isinstance(n, dict)) and o != n:
            lo, ln = _leaves(o or {}, key), _leaves(n or {}, key)
            changed += [k for k in sorted(set(lo) | set(ln)) if lo.get(k) != ln.get(k)]
        elif o != n:
            changed.append(key)
    return changed


def rule_key(type_: str, path: str) -> str:
    """The rule-table name of a changed path: its top-level input, or `block.key` where the table
    names a key inside a block (rootBlockDevice.encrypted)."""
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    dotted = ".".join(re.split(r"[.\[]", path.replace('"]', "").replace('["', "."))[:2])
    return dotted if dotted in _names(type_) else top


def _names(type_: str) -> frozenset[str]:
    rules = RULES.get(type_)
    return (rules.replace | rules.in_place) if rules else frozenset()


def is_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return value == UNKNOWN


def matches(path: str, pattern: str) -> bool:
    """The engine's PropertyPath.Contains for the patterns the program uses: `a.b`, `a["b"]`, `a[*]`."""
    norm = lambda p: re.sub(r"\[(\d+)\]", r".\1", p.replace('["', ".").replace('"]', "").replace("[*]", ".*"))  # noqa: E731
    want, have = norm(pattern).split("."), norm(path).split(".")
    return len(want) <= len(have) and all(w in ("*", h) for w, h in zip(want, have))


def decide(
    type_: str,
    old: dict,
    new: dict,
    *,
    ignore_changes: list[str] = (),
    replace_on_changes: list[str] = (),
    delete_before_replace: Optional[bool] = None,
) -> Decision:
    """same / update / replace for a native (non-dynamic) resource, as the engine and provider would."""
    new = engine_rules.process_ignore_changes(new, old, list(ignore_changes))  # by property path
    if type_ == COMMAND:
        changed = changed_properties(type_, old, new)
        unknown_rule = [k for k in changed if rule_key(type_, k) not in COMMAND_REPLACE | COMMAND_IN_PLACE]
        if unknown_rule:
            raise KeyError(f"twin: no rule for {type_} input(s) {unknown_rule}")
        replace = [k for k in changed if rule_key(type_, k) in COMMAND_REPLACE]
        decision = Decision(
            "replace" if replace else ("update" if changed else "same"), changed, replace, rule_sources=[COMMAND_SOURCE]
        )
    else:
        rules = RULES.get(type_)
        if rules is None:
            raise KeyError(f"twin: no rule table for {type_}: look up which of its inputs force a replacement")
        for key in rules.kept_when_omitted:
            if new.get(key) is None and key in old:
                new[key] = old[key]
        changed = changed_properties(type_, old, new)
        unknown_rule = [k for k in changed if rule_key(type_, k) not in rules.replace | rules.in_place]
        if unknown_rule:
            raise KeyError(f"twin: no rule for {type_} input(s) {unknown_rule} (source to read: {rules.source})")
        replace = [k for k in changed if rule_key(type_, k) in rules.replace]
        sources = [rules.source]
        for name, predicate, source in rules.conditional:
            if predicate(old, new):
                replace.append(name)
                sources.append(source)
        decision = Decision(
            # A replace key without a change is a Same step (engine_rules.SOURCES["same_unless_some"]).
            engine_rules.diff_operation(
                engine_rules.DIFF_SOME if changed else engine_rules.DIFF_NONE, bool(replace), False
            ),
            changed,
            replace,
            delete_before_replace=rules.delete_before_replace,
            rule_sources=sources,
        )
    if decision.operation == "update" and replace_on_changes:
        hits = [c for c in decision.changed for p in replace_on_changes if matches(c, p)]
        if hits:
            decision.operation, decision.replace_keys = "replace", hits
            decision.rule_sources.append(ENGINE_SOURCES["replace_on"])
    if decision.operation == "replace":  # the option, when given, overrides the provider's answer
        decision.delete_before_replace = engine_rules.delete_before_replace(
            decision.delete_before_replace, delete_before_replace
        )
        if delete_before_replace is not None:
            decision.rule_sources.append(engine_rules.SOURCES["dbr_override"])
    return decision
