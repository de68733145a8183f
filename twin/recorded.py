"""What a run of the program under the mocks records: each registration (inputs, raw wire inputs,
parent, dependencies, options), each data-source call, and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class RecordedResource:
    """One registration as the engine received it: inputs in the clear and on the wire, parent,
    dependencies, options, and the outputs the mocks answered."""

    typ: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    wire_inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    custom: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordedCall:
    """One data-source call (invoke) the program made, with its arguments."""

    token: str
    args: dict[str, Any]


@dataclass
class ProgramRun:
    """Everything one run of the program registered and called, and its stack outputs, with lookups
    by type, name, URN and dependency for the tests."""

    resources: list[RecordedResource]
    calls: list[RecordedCall]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    warnings: list[str]
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: Optional[str] = None) -> RecordedResource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def by_id(self, id_: str) -> RecordedResource:
        return next(r for r in self.resources if r.id == id_)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def depends_on(self, resource: RecordedResource, other: RecordedResource) -> bool:
        """Whether `resource` waits for `other`, directly or through dependencies and parents."""
        seen: set[str] = set()
        todo = list(self._direct_deps(resource))
        while todo:
            urn = todo.pop()
            if urn == other.urn:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            dep = next((r for r in self.resources if r.urn == urn), None)
            if dep is not None:
                todo += self._direct_deps(dep)
                # A dependency on a component waits for all of its children.
                todo += [c.urn for c in self.children_of(dep)]
        return False

    @staticmethod
    def _direct_deps(resource: RecordedResource) -> list[str]:
        deps = list(resource.dependencies)
        for urns in resource.property_dependencies.values():
            deps += urns
        return deps
