"""One step of the twin's engine: the decision (the provider's Check and Diff, or the rule table, with
`ignoreChanges`, `replaceOnChanges` and `deleteBeforeReplace` applied; twin/engine_rules.py cites
pulumi/pulumi), the preview's answer, and the step itself (a delete-before-replace first deletes
the dependents that would be replaced: twin/engine_replace.py)."""

from __future__ import annotations

from typing import Any, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import resource_pb2

from . import engine_rules, rules
from .engine_state import DYNAMIC, FAILURES, Resource, Step, StepFailed, plain, reveal, to_struct


class Steps:
    """Deciding and doing one registration's step: same, create, update or replace, by the resource's
    own provider (dynamic) or the rule table (native), then the provider's create, update or delete."""

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
