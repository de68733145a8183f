"""A removed site or node is torn down in an order that works (issue #28 item 4), read from the recorded
resource graph under the mocks: the engine deletes resources in reverse dependency order, so whatever a
command on a node needs when it is deleted (the SSH ingress rule that lets `pulumi up` or the bastion
in, the way out to the primary, the login key) must be something the command depends on. Otherwise
the rule goes in the first wave of deletes and the node's retire (Bitbucket stopped, its home
unmounted) waits for an SSH connection that never comes."""

from __future__ import annotations

import re

import pytest

from tests.resource_types import COMMAND, EGRESS, GROUP, INGRESS

NODE_COMMAND = re.compile(r"^(?P<site>[a-z0-9]+)-node\d+-")


def _needs(run, site: str) -> list:
    """The rules of the site's node group a command on a node needs: SSH in, and every way out."""
    group = run.one(GROUP, f"{site}-nodes")
    ssh = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id and r.inputs["fromPort"] == 22]
    out = [r for r in run.of_type(EGRESS) if r.inputs["securityGroupId"] == group.id and r.inputs.get("cidrIpv4")]
    assert ssh and out, f"{site}: no SSH rule or no egress rule found"
    return [*ssh, *out]


@pytest.mark.parametrize("stack", ["farm-3", "two-sites", "single-nginx", "three-regions", "single-acm"])
def test_every_command_on_a_node_is_deleted_before_the_rules_it_needs(runs, stack):
    run = runs[stack]
    commands = [c for c in run.of_type(COMMAND) if NODE_COMMAND.match(c.name)]
    assert any(c.name.endswith("-retire") for c in commands)
    for command in commands:
        site = NODE_COMMAND.match(command.name)["site"]
        for rule in _needs(run, site):
            assert run.depends_on(command, rule), f"{command.name} does not wait for {rule.name}"


def test_a_removed_nodes_retire_outlives_nothing_it_needs_when_the_site_scales_in(runs):
    # Scaling in deletes only the leaving node's resources; the rules stay. The retire still reads
    # the site's login key through its connection: a key deleted first would fail its SSH.
    run = runs["farm-3"]
    retire = next(c for c in run.of_type(COMMAND) if c.name == "iad-node2-retire")
    key = next(r for r in run.resources if r.name == "iad-login-key")
    assert run.depends_on(retire, key)
