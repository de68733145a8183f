"""Reading a program run's resource graph: a site's resources, a security group's rules."""

from __future__ import annotations

from tests.harness import ProgramRun, RecordedResource
from tests.resource_types import GROUP


def site_resources(run: ProgramRun, site: str, typ: str) -> list[RecordedResource]:
    return [r for r in run.of_type(typ) if r.name.startswith(f"{site}-") or r.name == site]


def rules(run: ProgramRun, kind: str, group_name: str) -> set[tuple]:
    """(port, source) pairs of the rules on one security group; source is a CIDR or a group name."""
    group = run.one(GROUP, group_name)
    found = set()
    for rule in run.of_type(kind):
        if rule.inputs["securityGroupId"] != group.id:
            continue
        assert rule.inputs["fromPort"] == rule.inputs["toPort"], "rules open single ports only"
        source = (
            rule.inputs.get("cidrIpv4")
            or rule.inputs.get("cidrIpv6")
            or run.by_id(rule.inputs["referencedSecurityGroupId"]).name
        )
        found.add((rule.inputs["fromPort"], source))
    return found
