"""The twin's engine: the real program under Pulumi's mocks, with the engine's part played here.

`pulumi up` as pulumi/pulumi does it (sources in rules.ENGINE_SOURCES):
- The program registers a resource once everything it depends on is done (the SDK awaits the
  dependencies' registrations, which the engine answers only when their steps are complete).
- Each registration is a step: same, create, update or replace, decided by the resource's own
  provider (dynamic resources: their `check` and `diff`, through the SDK's host code) or by the
  rule table (twin/rules.py over twin/rule_table.py), with `ignoreChanges` (by property path),
  `replaceOnChanges` and `deleteBeforeReplace` (the option overrides the provider) applied; a diff
  without changes is a same step whatever its replace keys; a replacement Checks again with no olds
  and creates from that (twin/engine_rules.py, each with its pulumi/pulumi source line). At most `parallel` steps run
  at once (default: PULUMI_PARALLEL, else 4 x the deployer's cores).
- A replacement creates the new resource first and deletes the old one with the deletes, unless
  delete-before-replace: then the dependents that would be replaced are deleted first, then the
  old resource, then the new one is created.
- When the program has ended, the resources it no longer registers and the replaced ones are
  deleted in reverse dependency order, antichain by antichain.
- A failed step stops the deployment: steps under way finish, nothing new starts, no deletes.

A preview runs the same program with the same rules and changes nothing; it also gives the up its
plan: which registrations to expect, and after which steps (clock.Scheduler waits for them).

Here: the engine and one deployment (its run, its registrations, its commit to the state). By job:
engine_state (what the state keeps, a step, the plan, the result), engine_program (the program
under the engine's monitor), engine_schedule (what the clock is owed, parallel slots, the kill),
engine_steps (deciding and doing one step), engine_replace (the dependents a delete-before-replace
takes down), engine_deletes (the delete phase).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Optional

from google.protobuf import struct_pb2
from pulumi.runtime.proto import resource_pb2

from . import engine_rules
from .clock import Killed, Scheduler
from .dynamic_host import DynamicHost
from .engine_deletes import Deletes
from .engine_program import ProgramUnderMocks, _Monitor
from .engine_replace import Replacements
from .engine_schedule import Scheduling
from .engine_state import FAILURES, Planned, Resource, Step, StepFailed, UpResult
from .engine_steps import Steps
from .native import Native


class Engine:
    """`pulumi up` and `pulumi preview` on one stack: the stack's state and the deployments that change it."""

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


class _Deployment(ProgramUnderMocks, Scheduling, Steps, Replacements, Deletes):
    """One preview or up: the program run once, each registration a step; the other jobs are mixed in
    from their modules (see the module's docstring)."""

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


__all__ = ["Engine", "UpResult", "Step", "json"]
