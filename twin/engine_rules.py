"""The engine's own decisions, each as pulumi/pulumi makes it (sources read at commit PULUMI_COMMIT).

The twin's engine (twin/engine.py) asks these for: which step a provider's diff means, whether a
replacement deletes first, which inputs `ignoreChanges` resets, and how many steps run at once.
A replacement's second Check (with no olds) is made in engine.py, citing SOURCES["recheck"].
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping, Optional

PULUMI_COMMIT = "1b5949891b3cefcb9974752b24a5ecef0acc86c8"  # pulumi/pulumi master, 2026-08-21
_SG = f"pulumi/pulumi@{PULUMI_COMMIT[:12]} pkg/resource/deploy/step_generator.go"

# The deployer's machine, as the twin models it: 2 cores (GOMAXPROCS defaults to the CPU count),
# the machine README's benchmarks state. `python -m twin --parallel N` or PULUMI_PARALLEL override.
DEPLOYER_CPUS = 2

# provider.proto DiffResponse.DiffChanges and PropertyDiff.Kind values.
DIFF_UNKNOWN, DIFF_NONE, DIFF_SOME = 0, 1, 2
_REPLACE_KINDS = {1, 3, 5}  # ADD_REPLACE, DELETE_REPLACE, UPDATE_REPLACE

SOURCES = {
    "recheck": f"{_SG} continueStepsFromDiff: on a replacement 'we need to recompute the default values': "
    "prov.Check(CheckRequest{URN, News: goal.Properties}) with no Olds; new.Inputs = its result, which "
    "Create receives (also at preview: Create(Preview) hands back those inputs, provider_plugin.go Create)",
    "same_unless_some": f"{_SG} continueStepsFromDiff: `if diff.Changes == plugin.DiffSome || "
    "old.PendingReplacement` guards replace and update; a DiffNone with replace keys falls through to a "
    "SameStep (the deferred `len(updateSteps) == 0` branch)",
    "diff_unknown": f"{_SG} diffResource: DiffUnknown becomes DiffSome when the old inputs differ from the new "
    "(ignored paths reset), else DiffNone",
    "replace": f"pulumi/pulumi@{PULUMI_COMMIT[:12]} sdk/go/common/resource/plugin/provider.go DiffResult.Replace: "
    "replace keys, or a detailed diff of a *_REPLACE kind",
    "dbr_override": f"{_SG} continueStepsFromDiff: `deleteBeforeReplace := diff.DeleteBeforeReplace; if "
    "goal.DeleteBeforeReplace != nil {{ deleteBeforeReplace = *goal.DeleteBeforeReplace }}` (the option, "
    "when given, overrides the provider; source_eval.go RegisterResource: given = "
    "deleteBeforeReplaceDefined || deleteBeforeReplace)",
    "ignore_paths": f"{_SG} processIgnoreChanges: each ignoreChanges entry parsed by resource.ParsePropertyPath "
    "and reset with PropertyPath.Reset(oldInputs, inputs) (sdk/go/common/resource/properties_path.go), "
    "before the first Check; the replacement's Check uses goal.Properties, so ignored paths are not reset "
    "for a replacement",
    "parallel": f"pulumi/pulumi@{PULUMI_COMMIT[:12]} pkg/cmd/pulumi/operations/up.go defaultParallel (PR #15016): "
    "PULUMI_PARALLEL when > 0, else 4 x runtime.GOMAXPROCS(0) (the CPU count)",
}


def default_parallel(env: Mapping[str, str], cpus: int = DEPLOYER_CPUS) -> int:
    """`pulumi up`'s --parallel when not given (SOURCES["parallel"])."""
    try:
        value = int(env.get("PULUMI_PARALLEL", "") or 0)
    except ValueError:
        value = 0  # env.Parallel is an int setting: a value that is not one counts as unset
    return value if value > 0 else 4 * cpus


def diff_operation(changes: int, replace: bool, inputs_differ: bool, pending_replacement: bool = False) -> str:
    """same | update | replace from a provider's diff (SOURCES["same_unless_some"], ["diff_unknown"])."""
    if changes == DIFF_UNKNOWN:
        changes = DIFF_SOME if inputs_differ else DIFF_NONE
    if changes != DIFF_SOME and not pending_replacement:
        return "same"
    return "replace" if replace or pending_replacement else "update"


def diff_replaces(replaces: list[str], detailed_kinds: list[int]) -> bool:
    """DiffResult.Replace (SOURCES["replace"])."""
    return bool(replaces) or any(kind in _REPLACE_KINDS for kind in detailed_kinds)


def delete_before_replace(provider_answer: bool, option: Optional[bool]) -> bool:
    """The resource option, when given, overrides the provider (SOURCES["dbr_override"])."""
    return bool(provider_answer) if option is None else bool(option)


def dbr_option(defined: bool, value: bool) -> Optional[bool]:
    """goal.DeleteBeforeReplace from a RegisterResourceRequest (nil unless given)."""
    return bool(value) if defined or value else None


# --- ignoreChanges: PropertyPath.Reset ---------------------------------------------------------
_MISSING = object()


def parse_path(path: str) -> list:
    """resource.ParsePropertyPath (non-strict): `a.b`, `a["b.c"]`, `a[0]`, `a[*]`."""
    elements: list = []
    rest = path
    if rest.startswith("."):
        raise ValueError(f"{path!r}: expected property path to start with a name or index")
    while rest:
        if rest[0] == ".":
            rest = rest[1:]
            if not rest:
                raise ValueError(f"{path!r}: expected property path to end with a name or index")
        elif rest.startswith('["'):
            m = re.match(r'\["((?:[^"\\]|\\")*)"\]', rest)
            if not m:
                raise ValueError(f"{path!r}: missing closing quote or bracket")
            elements.append(m.group(1).replace('\\"', '"'))
            rest = rest[m.end() :]
        elif rest[0] == "[":
            end = rest.find("]")
            if end == -1:
                raise ValueError(f"{path!r}: missing closing bracket in array index")
            segment = rest[1:end]
            elements.append("*" if segment == "*" else int(segment))
            rest = rest[end + 1 :]
        else:
            m = re.match(r"[^.\[]+", rest)
            assert m
            elements.append(m.group(0))
            rest = rest[m.end() :]
    return elements


def _reset(p: list, old: Any, new: Any) -> bool:  # noqa: C901 - one branch per case of properties_path.go reset
    if not p:
        return False
    key, leaf = p[0], len(p) == 1
    if isinstance(key, int):
        o_arr, n_arr = isinstance(old, list), isinstance(new, list)
        if key < 0:
            return False
        if leaf:
            if not o_arr and not n_arr:
                return True
            if not (o_arr and n_arr):
                return False
            if key >= len(old) and key >= len(new):
                return True
            if key >= len(old) or key >= len(new):
                return False
            new[key] = copy.deepcopy(old[key])
            return True
        if not (o_arr and n_arr):
            return not o_arr and not n_arr
        if key >= len(old) or key >= len(new):
            return False
        return _reset(p[1:], old[key], new[key])
    if key == "*":
        if leaf:
            if isinstance(new, dict):
                if isinstance(old, dict):
                    new.clear()
                    new.update(copy.deepcopy(old))
                return True
            if isinstance(new, list):
                if isinstance(old, list):
                    for i in range(min(len(old), len(new))):
                        new[i] = copy.deepcopy(old[i])
                    return len(old) == len(new)
                return True
            return False
        if isinstance(old, dict) and isinstance(new, dict):
            return all(k in new and _reset(p[1:], old[k], new[k]) for k in old)
        if isinstance(old, list) and isinstance(new, list):
            ok = all(_reset(p[1:], o, n) for o, n in zip(old, new))
            return ok and len(old) == len(new)
        return False
    if leaf:
        if isinstance(old, dict) and key in old:
            if not isinstance(new, dict):
                return False
            new[key] = copy.deepcopy(old[key])
        elif isinstance(new, dict):
            new.pop(key, None)
        return True
    if not isinstance(old, dict) or not isinstance(new, dict):
        return not isinstance(old, dict) and not isinstance(new, dict)
    n, o = new.get(key, _MISSING), old.get(key, _MISSING)
    if o is not _MISSING and n is _MISSING:
        return False
    if o is _MISSING and n is _MISSING:
        return True
    return _reset(p[1:], None if o is _MISSING else o, n)


def process_ignore_changes(inputs: dict, old_inputs: dict, ignore_changes: list[str]) -> dict:
    """The inputs with every ignored path reset to its old value (SOURCES["ignore_paths"]); a path that
    cannot be reset (an added or removed element) is left as it is, as the engine does (it says so)."""
    out = copy.deepcopy(inputs)
    for entry in ignore_changes:
        try:
            path = parse_path(entry)
        except ValueError:
            continue
        _reset(path, old_inputs, out)
    return out
