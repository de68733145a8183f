"""README's destroy when the primary is gone: `pulumi state delete --target-dependents` of a site's
approval takes out of the state exactly the records whose delete would call Bitbucket (the approval,
and the project selection that depends on it), and nothing that `pulumi destroy` must still remove
from AWS. The URN README prints is the one the program registers."""

from __future__ import annotations

import re
from pathlib import Path

from tests.resource_types import APPROVAL, PROJECTS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_approvals_dependents_are_exactly_its_project_selection(runs):
    for stack, run in runs.items():
        for approval in run.of_type(APPROVAL):
            site = approval.name.removesuffix("-approval")
            dependents = {r.name for r in run.resources if r.urn != approval.urn and run.depends_on(r, approval)}
            assert dependents == {f"{site}-projects"}, (stack, site, dependents)
            assert run.one(PROJECTS, f"{site}-projects").typ == PROJECTS
            assert run.children_of(approval) == [], (stack, site)


def test_the_urn_readme_deletes_is_the_approval_the_program_registers(runs):
    urns = re.findall(r"pulumi state delete --target-dependents '([^']+)'", README.read_text())
    assert len(urns) == 1, urns
    # The stack and the site are the reader's; the project and the type chain (the site component,
    # then the approval) are the program's.
    chain = re.fullmatch(r"urn:pulumi:[\w.-]+::(.+)::[a-z][a-z0-9-]*-approval", urns[0]).group(1)
    registered = {r.urn.split("::", 1)[1].rsplit("::", 1)[0] for r in runs["example"].of_type(APPROVAL)}
    assert registered == {chain}, (urns[0], registered)
