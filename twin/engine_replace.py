"""Which old resources a delete-before-replace takes down with it: those with a property dependency on
the replaced set whose diff, with those inputs unknown, is a replacement (pulumi/pulumi
step_generator.go calculateDependentReplacements; rules.ENGINE_SOURCES["dbr"])."""

from __future__ import annotations

from google.protobuf import struct_pb2

from . import rules
from .engine_state import DYNAMIC, Resource, with_unknown


class Replacements:
    """The dependents a delete-before-replace deletes first (the engine's calculateDependentReplacements)."""

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
