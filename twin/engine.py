"""The twin's engine: the real program under Pulumi's mocks, with the engine's part played here.

`pulumi up` as pulumi/pulumi does it (sources in rules.ENGINE_SOURCES):
- The program registers a resource once everything it depends on is done (the SDK awaits the
  dependencies' registrations, which the engine answers only when their steps are complete).
- Each registration is a step: same, create, update or replace, decided by the resource's own
  provider (dynamic resources: their `check` and `diff`, through the SDK's host code) or by the
  rule table (twin/rules.py), with `ignoreChanges` (by property path), `replaceOnChanges` and
  `deleteBeforeReplace` (the option overrides the provider) applied; a diff without changes is a
  same step whatever its replace keys; a replacement Checks again with no olds and creates from
  that (twin/engine_rules.py, each with its pulumi/pulumi source line). At most `parallel` steps run
  at once (default: PULUMI_PARALLEL, else 4 x the deployer's cores).
- A replacement creates the new resource first and deletes the old one with the deletes, unless
  delete-before-replace: then the dependents that would be replaced are deleted first, then the
  old resource, then the new one is created.
- When the program has ended, the resources it no longer registers and the replaced ones are
  deleted in reverse dependency order, antichain by antichain.
- A failed step stops the deployment: steps under way finish, nothing new starts, no deletes.

A preview runs the same program with the same rules and changes nothing; it also gives the up its
plan: which registrations to expect, and after which steps (clock.Scheduler waits for them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import logging
import os
import pickle
import runpy
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from twin.mocked_engine import VersionedEngine
from twin.program import CURRENT_CLI, PROGRAM, PROJECT
from twin.wire import SECRET_KEY, SECRET_SIG

from . import engine_rules, rules
from .clock import Killed, Scheduler
from .dynamic_host import DynamicHost, HostCallFailed
from .native import Native
from .node import CommandFailed
from .world import WorldError

DYNAMIC = "pulumi-python:dynamic/"
_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
FAILURES = (HostCallFailed, CommandFailed, WorldError, KeyError, ValueError, RuntimeError)


@dataclass
class Resource:
    """One resource as the stack's state keeps it."""

    urn: str
    type: str
    name: str
    id: str
    inputs: dict
    outputs: dict
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    delete_before_replace: bool = False
    inputs_struct: Optional[struct_pb2.Struct] = None  # dynamic: the checked inputs the host saw
    outputs_struct: Optional[struct_pb2.Struct] = None


@dataclass
class Step:
    urn: str
    name: str
    type: str
    operation: str
    start: float
    end: float = 0.0
    error: Optional[str] = None
    detail: list[str] = field(default_factory=list)

    def json(self, origin: float = 0.0) -> dict:
        """Start and end in modelled seconds from `origin` (the deployment's start)."""
        return {
            "resource": f"{self.type.split(':')[-1]} {self.name}",
            "operation": self.operation,
            "start": round(self.start - origin, 1),
            "end": round(self.end - origin, 1),
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Planned:
    urn: str
    type: str
    custom: bool
    dependencies: set[str]
    operation: str = "same"


@dataclass
class UpResult:
    steps: list[Step]
    error: Optional[str]
    start: float
    end: float
    warnings: list[tuple[str, str]]  # (urn, message) the engine was told, program or providers
    plan: dict[str, Planned]
    outputs: dict[str, Any] = field(default_factory=dict)
    killed: bool = False

    @property
    def changes(self) -> int:
        return sum(1 for s in self.steps if s.operation != "same")


class StepFailed(Exception):
    pass


def reveal(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """What the engine sends a provider that declined secrets: every value in the clear."""

    def unwrap(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get(SECRET_KEY) == SECRET_SIG:
                return unwrap(value.get("value"))
            return {k: unwrap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unwrap(v) for v in value]
        return value

    out = struct_pb2.Struct()
    out.update(unwrap(json_format.MessageToDict(struct)))
    return out


def plain(struct: Optional[struct_pb2.Struct]) -> dict:
    if struct is None:
        return {}
    _ensure_event_loop()
    return dict(rpc.deserialize_properties(reveal(struct), keep_unknowns=True))


def to_struct(values: dict) -> struct_pb2.Struct:
    _ensure_event_loop()
    return _sync_await(rpc.serialize_properties(values, {}))


def with_unknown(struct: struct_pb2.Struct, keys: set[str]) -> struct_pb2.Struct:
    values = json_format.MessageToDict(struct)
    for key in keys:
        values[key] = rules.UNKNOWN
    out = struct_pb2.Struct()
    out.update(values)
    return out


class Engine:
    def __init__(
        self,
        sched: Scheduler,
        native: Native,
        invokes: Callable[[Any], dict],
        stack_config: dict[str, str],
        secret_keys: list[str],
        parallel: Optional[int] = None,
    ) -> None:
        self.sched = sched
        self.native = native
        self.invokes = invokes
        self.config = stack_config
        self.secret_keys = secret_keys
        # `pulumi up` without --parallel: PULUMI_PARALLEL, else 4 x the deployer's cores.
        self.parallel = parallel or engine_rules.default_parallel(os.environ)
        self.state: dict[str, Resource] = {}
        self.order: list[str] = []
        # Replaced resources still to delete (their delete failed, or the up stopped before it).
        self.pending: list[Resource] = []
        self.warnings: list[tuple[str, str]] = []
        self.current: Optional["_Deployment"] = None  # the deployment under way

    # --- one deployment ----------------------------------------------------------------------
    def preview(self) -> UpResult:
        return self._deploy(preview=True, plan=None)

    def up(self, kill_after: Optional[int] = None) -> UpResult:
        """`pulumi up`: a preview first; a preview that fails stops it before any step."""
        preview = self.preview()
        if preview.error:
            return UpResult(
                steps=[],
                error=preview.error,
                start=self.sched.now,
                end=self.sched.now,
                warnings=preview.warnings,
                plan=preview.plan,
            )
        return self._deploy(preview=False, plan=preview.plan, kill_after=kill_after)

    def _deploy(self, preview: bool, plan: Optional[dict[str, Planned]], kill_after: Optional[int] = None) -> UpResult:
        run = _Deployment(self, preview, plan, kill_after)
        self.current = run
        try:
            return run.execute()
        finally:
            self.current = None


class _Deployment:
    def __init__(self, engine: Engine, preview: bool, plan: Optional[dict[str, Planned]], kill_after: Optional[int]):
        self.engine = engine
        self.preview = preview
        self.plan = plan or {}
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.registered: dict[str, Resource] = {}
        self.registered_order: list[str] = []
        self.arrived: set[str] = set()
        self.done: set[str] = set()
        self.steps: list[Step] = []
        self.failed: Optional[str] = None
        self.killed = False
        self.pending_deletes: list[Resource] = []
        self.pending_deletes += list(engine.pending)  # left by an earlier up
        self.deleted_replaced: list[Resource] = []
        self.deleted_now: set[str] = set()
        self.new_plan: dict[str, Planned] = {}
        self.host = DynamicHost(engine.config, tuple(engine.secret_keys))
        self.running = 0
        self.slot_waiters: list[Any] = []
        self.completed_changes = 0
        self.warnings: list[tuple[str, str]] = []
        self._index_plan()

    # --- scheduling ---------------------------------------------------------------------------
    def _index_plan(self) -> None:
        """Per planned registration, how many of the steps it waits for are not done yet."""
        self.waiting_on: dict[str, int] = {}
        self.dependents: dict[str, list[str]] = {}
        for urn, planned in self.plan.items():
            if not planned.custom:
                continue
            deps = {d for d in planned.dependencies if d in self.plan and self.plan[d].custom}
            self.waiting_on[urn] = len(deps)
            for d in deps:
                self.dependents.setdefault(d, []).append(urn)
        self.owed_now = {u for u, n in self.waiting_on.items() if n == 0}

    def owed(self) -> set[str]:
        if self.preview or self.failed or self.killed:
            return set()
        with self.lock:
            return set(self.owed_now)

    def _arrived(self, urn: str) -> None:
        with self.lock:
            self.arrived.add(urn)
            self.owed_now.discard(urn)

    def _done(self, urn: str) -> None:
        with self.lock:
            self.done.add(urn)
            for dependent in self.dependents.get(urn, ()):
                self.waiting_on[dependent] -= 1
                if self.waiting_on[dependent] == 0 and dependent not in self.arrived:
                    self.owed_now.add(dependent)

    def execute(self) -> UpResult:
        sched = self.engine.sched
        start = sched.now
        sched.owed = self.owed
        error = None
        outputs: dict[str, Any] = {}
        try:
            outputs = self._run_program()
        except Exception as exc:  # noqa: BLE001 - the program's failure is the deployment's
            error = self.failed or f"{type(exc).__name__}: {exc}"
        if not self.preview:
            sched.wait_idle()
            if error is None and self.failed is None and not self.killed:
                self._delete_phase()
                sched.wait_idle()
        sched.owed = set
        if sched.killed:
            sched.wait_idle()
            sched.revive()
        if sched.never_arrived:
            error = (
                error or f"twin: the program never registered {sorted(sched.never_arrived)[:3]}, which the plan owed"
            )
            sched.never_arrived = set()
        error = self.failed or error
        if not self.preview:
            self._commit()  # what completed is in the state, as the engine checkpoints each step
        steps = sorted(self.steps, key=lambda s: (s.start, s.end, s.urn))
        return UpResult(
            steps=steps,
            error=error,
            start=start,
            end=sched.now,
            warnings=self.warnings,
            plan=self.new_plan,
            outputs=outputs,
            killed=self.killed,
        )

    def _commit(self) -> None:
        self.engine.pending = [r for r in self.pending_deletes if not any(r is d for d in self.deleted_replaced)]
        state = self.engine.state
        for urn in self.deleted_now:
            state.pop(urn, None)
        for urn, resource in self.registered.items():
            state[urn] = resource
        self.engine.order = [u for u in self.engine.order if u in state] + [
            u for u in self.registered_order if u not in self.engine.order
        ]

    # --- the program --------------------------------------------------------------------------
    def _run_program(self) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            # The SDK wraps this pickler method once more on every provider it serializes and never
            # unwraps it: each program run starts from the original, as a fresh `pulumi up` would.
            pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            # Every registration waits in its own thread for its step, as the engine's answer is awaited.
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=4096))
            # A failed deployment leaves the program's later registrations unanswered; asyncio would say so.
            loop.set_exception_handler(lambda _loop, _context: None)
            logger = logging.getLogger(f"twin-program-{id(self)}")
            logger.propagate = False
            logger.addHandler(_Collect(self.warnings))
            monitor = _Monitor(self)
            try:
                pulumi.runtime.set_mocks(
                    _Invokes(self.engine.invokes),
                    project=PROJECT,
                    stack="twin",
                    preview=self.preview,
                    monitor=monitor,
                    logger=logger,
                )
                pulumi.runtime.settings.SETTINGS.engine = VersionedEngine(logger, CURRENT_CLI)
                pulumi.runtime.set_all_config(self.engine.config, self.engine.secret_keys)
                root = get_root_resource()

                async def main() -> dict[str, Any]:
                    await run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
                    return {
                        k: await pulumi.Output.from_input(v).future(with_unknowns=True) for k, v in root.outputs.items()
                    }  # type: ignore[union-attr]

                return loop.run_until_complete(main())
            finally:
                self.engine.sched.notify()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                asyncio.set_event_loop(None)

        try:
            return contextvars.Context().run(run)
        finally:
            self.engine.sched.notify()

    def register(self, request) -> resource_pb2.RegisterResourceResponse:
        urn = _Monitor.make_urn(request.parent, request.type, request.name)
        deps = set(request.dependencies) | {u for v in request.propertyDependencies.values() for u in v.urns}
        if request.parent:
            deps.add(request.parent)
        if not request.custom:
            self.new_plan[urn] = Planned(urn, request.type, False, deps)
            return resource_pb2.RegisterResourceResponse(urn=urn, object=struct_pb2.Struct())
        planned = Planned(urn, request.type, True, deps)
        self.new_plan[urn] = planned
        if self.preview:
            response, operation = self._preview_step(urn, request)
            planned.operation = operation
            return response
        self._arrived(urn)
        with self.lock:
            refused = self.failed or ("the deployment was killed" if self.killed else None)
        self.engine.sched.notify()
        if refused:
            raise StepFailed(f"not started: {refused}")
        sched = self.engine.sched
        try:
            sched.enter(urn)
        except Killed:
            raise StepFailed("the deployment was killed") from None
        step = Step(urn, request.name, request.type, "same", sched.now)
        try:
            response = self._step(urn, request, step)
            return response
        except Killed:
            step.error = "killed"
            raise StepFailed("the deployment was killed") from None
        except FAILURES + (StepFailed,) as exc:
            step.error = str(exc)
            with self.lock:
                if self.failed is None:
                    self.failed = f"{request.type.split(':')[-1]} {request.name}: {exc}"
            raise StepFailed(str(exc)) from None
        finally:
            step.end = sched.now
            self.steps.append(step)
            self._done(urn)
            if step.operation != "same" and step.error is None:
                self._count_change()
            sched.leave()
            sched.notify()

    def _count_change(self) -> None:
        self.completed_changes += 1
        if self.kill_after is not None and self.completed_changes >= self.kill_after and not self.killed:
            self.killed = True
            self.engine.sched.kill()

    # --- deciding and doing one step ----------------------------------------------------------
    def _decide(
        self, urn: str, request, old: Optional[Resource], pending: bool = False
    ) -> tuple[str, Any, rules.Decision]:
        """(operation, the inputs its step uses, decision) for a registration; `pending`: deleted
        already as a dependent of a delete-before-replace (old.PendingReplacement)."""
        typ = request.type
        dbr_option = engine_rules.dbr_option(request.deleteBeforeReplaceDefined, request.deleteBeforeReplace)
        if typ.startswith(DYNAMIC):
            return self._decide_dynamic(urn, request, old, pending, dbr_option)
        goal = plain(request.object)
        if old is None:
            return "create", goal, rules.Decision("create")
        decision = rules.decide(
            typ,
            old.inputs,
            goal,
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            delete_before_replace=dbr_option,
        )
        if pending:
            decision.operation = "replace"
        if decision.operation == "replace":
            # The replacement's Check sees goal.Properties: ignored paths are not reset for it.
            decision.rule_sources.append(engine_rules.SOURCES["recheck"])
            return "replace", goal, decision
        # The old values of ignored paths stand (processIgnoreChanges).
        inputs = engine_rules.process_ignore_changes(goal, old.inputs, list(request.ignoreChanges))
        return decision.operation, inputs, decision

    def _decide_dynamic(
        self, urn: str, request, old: Optional[Resource], pending: bool, dbr_option: Optional[bool]
    ) -> tuple[str, Any, rules.Decision]:
        goal = reveal(request.object)
        if old is None:
            return "create", self._check(urn, struct_pb2.Struct(), goal), rules.Decision("create")
        old_inputs = old.inputs_struct or struct_pb2.Struct()
        news = goal
        if request.ignoreChanges:
            reset = engine_rules.process_ignore_changes(
                json_format.MessageToDict(goal), json_format.MessageToDict(old_inputs), list(request.ignoreChanges)
            )
            news = struct_pb2.Struct()
            news.update(reset)
        checked = self._check(urn, old_inputs, news)
        diff = self.host.diff(urn, old.id, old.outputs_struct or struct_pb2.Struct(), checked, old_inputs)
        replace = engine_rules.diff_replaces(list(diff.replaces), [d.kind for d in diff.detailedDiff.values()])
        operation = engine_rules.diff_operation(
            diff.changes,
            replace,
            inputs_differ=plain(checked) != old.inputs,
            pending_replacement=pending,
        )
        decision = rules.Decision(
            operation,
            replace_keys=list(diff.replaces),
            delete_before_replace=engine_rules.delete_before_replace(diff.deleteBeforeReplace, dbr_option),
            rule_sources=[engine_rules.SOURCES["same_unless_some"]],
        )
        if operation == "replace":
            # Check again with no olds: Create (and a preview's promise) get these inputs.
            checked = self._check(urn, struct_pb2.Struct(), goal)
            decision.rule_sources.append(engine_rules.SOURCES["recheck"])
        return operation, checked, decision

    def _check(self, urn: str, olds: struct_pb2.Struct, news: struct_pb2.Struct) -> struct_pb2.Struct:
        check = self.host.check(urn, olds, news)
        if check.failures:
            raise StepFailed("; ".join(f"{f.property}: {f.reason}" for f in check.failures))
        return check.inputs

    def _preview_step(self, urn: str, request) -> tuple[resource_pb2.RegisterResourceResponse, str]:
        old = self.engine.state.get(urn)
        try:
            operation, checked, decision = self._decide(urn, request, old)
        except FAILURES + (StepFailed,) as exc:
            with self.lock:
                self.failed = self.failed or f"{request.type.split(':')[-1]} {request.name}: {exc}"
            raise StepFailed(str(exc)) from None
        if request.type.startswith(DYNAMIC):
            # Providers without preview support: the engine hands back the checked inputs.
            obj = checked if operation != "same" else old.outputs_struct
        elif operation == "same":
            obj = to_struct(old.outputs)
        elif operation == "update":
            obj = to_struct({**old.outputs, **checked})
        else:
            obj = to_struct(checked)
        step = Step(urn, request.name, request.type, operation, 0.0)
        step.detail = decision.replace_keys or decision.changed
        self.steps.append(step)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=old.id if old and operation != "replace" else "", object=obj
        ), operation

    def _step(self, urn: str, request, step: Step) -> resource_pb2.RegisterResourceResponse:
        old = self.engine.state.get(urn)
        with self.lock:
            pending_replacement = old is not None and urn in self.deleted_now
        # Deleted already, as a dependent of a delete-before-replace (DeleteReplacementStep with
        # pendingReplace; its state marked PendingReplacement): whatever its diff says now, it is
        # created (after the replacement's Check), and never deleted a second time
        # (step_generator.go, continueStepsFromDiff).
        operation, checked, decision = self._decide(urn, request, old, pending=pending_replacement)
        if pending_replacement:
            decision.delete_before_replace = False
            decision.rule_sources.append(rules.ENGINE_SOURCES["pending_replacement"])
        step.operation = operation
        step.detail = decision.replace_keys or decision.changed
        dynamic = request.type.startswith(DYNAMIC)
        deps = sorted(
            {u for u in request.dependencies} | {u for v in request.propertyDependencies.values() for u in v.urns}
        )
        prop_deps = {k: list(v.urns) for k, v in request.propertyDependencies.items()}
        inputs_plain = plain(checked) if dynamic else checked
        if operation == "same":
            assert old is not None
            resource = Resource(
                urn,
                request.type,
                request.name,
                old.id,
                inputs_plain,
                old.outputs,
                request.parent,
                deps,
                prop_deps,
                request.deleteBeforeReplace,
                checked if dynamic else None,
                old.outputs_struct,
            )
            self._keep(resource)
            return resource_pb2.RegisterResourceResponse(
                urn=urn, id=old.id, object=old.outputs_struct if dynamic else to_struct(old.outputs)
            )
        self._acquire()
        try:
            if operation == "replace" and decision.delete_before_replace:
                assert old is not None
                for dependent in self._dependent_replacements(old):
                    self._delete(dependent)
                    with self.lock:
                        self.deleted_now.add(dependent.urn)
                self._delete(old)
                with self.lock:
                    self.deleted_now.add(urn)
            if operation in ("create", "replace"):
                id_, outputs, outputs_struct = self._create(request, urn, checked, dynamic)
            else:
                assert old is not None
                id_ = old.id
                outputs, outputs_struct = self._update(request, urn, old, checked, dynamic)
            if operation == "replace" and not decision.delete_before_replace and not pending_replacement:
                assert old is not None
                self.pending_deletes.append(old)
        finally:
            self._release()
        resource = Resource(
            urn,
            request.type,
            request.name,
            id_,
            inputs_plain,
            outputs,
            request.parent,
            deps,
            prop_deps,
            request.deleteBeforeReplace,
            checked if dynamic else None,
            outputs_struct,
        )
        self._keep(resource)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=outputs_struct)

    def _keep(self, resource: Resource) -> None:
        with self.lock:
            self.registered[resource.urn] = resource
            self.registered_order.append(resource.urn)
            self.deleted_now.discard(resource.urn)

    def _create(self, request, urn: str, checked: Any, dynamic: bool) -> tuple[str, dict, struct_pb2.Struct]:
        if dynamic:
            response = self.host.create(urn, checked)
            return response.id, plain(response.properties), response.properties
        id_, outputs = self.engine.native.create(request.type, request.name, checked)
        return id_, outputs, to_struct(outputs)

    def _update(self, request, urn: str, old: Resource, checked: Any, dynamic: bool) -> tuple[dict, struct_pb2.Struct]:
        if dynamic:
            response = self.host.update(
                urn,
                old.id,
                old.outputs_struct or struct_pb2.Struct(),
                checked,
                old.inputs_struct or struct_pb2.Struct(),
            )
            return plain(response.properties), response.properties
        outputs = self.engine.native.update(request.type, request.name, old.id, old.inputs, old.outputs, checked)
        return outputs, to_struct(outputs)

    def _delete(self, resource: Resource) -> None:
        if resource.type.startswith(DYNAMIC):
            self.host.delete(
                resource.urn,
                resource.id,
                resource.outputs_struct or struct_pb2.Struct(),
                resource.inputs_struct or struct_pb2.Struct(),
            )
        else:
            self.engine.native.delete(resource.type, resource.name, resource.id, resource.inputs, resource.outputs)

    def _dependent_replacements(self, root: Resource) -> list[Resource]:
        """calculateDependentReplacements: old resources with a property dependency on the replaced
        set whose diff, with those inputs unknown, is a replacement; dependents first."""
        replaced = {root.urn}
        found: list[Resource] = []
        changed = True
        while changed:
            changed = False
            for urn in self.engine.order:
                resource = self.engine.state.get(urn)
                if resource is None or urn in replaced or resource.type.startswith("pulumi:"):
                    continue
                keys = {k for k, urns in resource.property_dependencies.items() if set(urns) & replaced}
                if not keys or not self._replaced_with_unknown(resource, keys):
                    continue
                replaced.add(urn)
                found.append(resource)
                changed = True
        return list(reversed(found))

    def _replaced_with_unknown(self, resource: Resource, keys: set[str]) -> bool:
        if resource.type.startswith(DYNAMIC):
            news = with_unknown(resource.inputs_struct or struct_pb2.Struct(), keys)
            diff = self.host.diff(
                resource.urn,
                resource.id,
                resource.outputs_struct or struct_pb2.Struct(),
                news,
                resource.inputs_struct or struct_pb2.Struct(),
            )
            return bool(diff.replaces)
        news = {**resource.inputs, **{k: rules.UNKNOWN for k in keys}}
        try:
            return rules.decide(resource.type, resource.inputs, news).operation == "replace"
        except KeyError:
            return False

    # --- parallelism --------------------------------------------------------------------------
    def _acquire(self) -> None:
        sched = self.engine.sched
        while True:
            with self.lock:
                if self.running < self.engine.parallel:
                    self.running += 1
                    return
            sched.sleep(1.0)  # a full engine: try again in a modelled second

    def _release(self) -> None:
        with self.lock:
            self.running -= 1

    # --- deletes ------------------------------------------------------------------------------
    def _delete_phase(self) -> None:
        state = self.engine.state
        condemned: list[Resource] = [
            r for u, r in state.items() if u not in self.registered and u not in self.deleted_now
        ]
        condemned += self.pending_deletes
        while condemned:
            # Deleted first: what no other condemned resource depends on (ScheduleDeletes).
            layer = [
                r
                for r in condemned
                if not any(
                    r.urn in other.dependencies or r.urn == other.parent
                    for other in condemned
                    if other is not r and other.urn != r.urn
                )
            ]
            if not layer:
                layer = list(condemned)
            # The layer's deletes all enter the clock before it moves on: which one takes a free slot
            # first then follows their names, not which thread the OS starts first.
            self.engine.sched.expect({"~delete " + r.urn for r in layer})
            threads = [threading.Thread(target=self._delete_step, args=(r,), daemon=True) for r in layer]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if self.failed:
                return
            condemned = [r for r in condemned if not any(r is done for done in layer)]

    def _delete_step(self, resource: Resource) -> None:
        replaced = any(resource is r for r in self.pending_deletes)
        sched = self.engine.sched
        try:
            sched.enter("~delete " + resource.urn)
        except Killed:
            return
        step = Step(resource.urn, resource.name, resource.type, "delete", sched.now)
        try:
            self._acquire()
            try:
                self._delete(resource)
            finally:
                self._release()
            with self.lock:
                if replaced:  # its successor keeps the URN
                    self.deleted_replaced.append(resource)
                else:
                    self.deleted_now.add(resource.urn)
                    self.registered.pop(resource.urn, None)
        except Killed:
            step.error = "killed"
        except FAILURES as exc:
            step.error = str(exc)
            with self.lock:
                self.failed = self.failed or f"{resource.type.split(':')[-1]} {resource.name} (delete): {exc}"
                # Its state stays: the next up deletes it again (a replaced one stays pending).
                if not replaced and resource.urn not in self.registered:
                    self.registered[resource.urn] = resource

        finally:
            step.end = sched.now
            self.steps.append(step)
            if step.error is None:
                self._count_change()
            sched.leave()


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, deployment: _Deployment) -> None:
        super().__init__(_Invokes(deployment.engine.invokes))
        self.deployment = deployment

    @staticmethod
    def make_urn(parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = parent.split("::")[2].split("$").pop() + "$" + type_
        return "urn:pulumi:" + "::".join(["twin", PROJECT, type_, name])

    def RegisterResource(self, request):
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=self.make_urn("", request.type, request.name))
        _ensure_event_loop()
        return self.deployment.register(request)

    def RegisterResourceOutputs(self, request):
        from google.protobuf import empty_pb2

        return empty_pb2.Empty()


class _Invokes(pulumi.runtime.Mocks):
    def __init__(self, call: Callable[[Any], dict]) -> None:
        self._call = call

    def new_resource(self, args):  # never used: the monitor answers registrations
        raise AssertionError("registrations go to the twin's monitor")

    def call(self, args):
        return self._call(args)


class _Collect(logging.Handler):
    def __init__(self, sink: list) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(("", record.getMessage()))


__all__ = ["Engine", "UpResult", "Step", "json"]
