"""components/network.py: who may reach a site's nodes and its load balancer, on which ports, and
whether the load balancer faces the internet (under Pulumi's mocks, on the real stack files)."""

from __future__ import annotations

import pytest

from tests.harness import STACKS, run_program
from tests.resource_types import EGRESS, GROUP, INGRESS, INSTANCE, NLB

from .graph import rules, site_resources
from .test_decisions import run_with


def test_nginx_node_faces_clients_and_primary_directly(runs):
    run = runs["single-nginx"]
    assert rules(run, INGRESS, "syd-nodes") == {
        (443, "10.0.0.0/8"),
        (443, "192.168.0.0/16"),
        (7999, "10.0.0.0/8"),
        (7999, "192.168.0.0/16"),
        (443, "203.0.113.10/32"),
        (22, "198.51.100.7/32"),
    }
    assert site_resources(run, "syd", NLB) == []


def test_acm_nodes_only_reachable_through_load_balancer(runs):
    run = runs["single-acm"]
    # A site behind a load balancer is a farm of one: Hazelcast between its own nodes only.
    assert rules(run, INGRESS, "fra-nodes") == {
        (7990, "fra-lb"),
        (7999, "fra-lb"),
        (22, "198.51.100.7/32"),
        (5701, "fra-nodes"),
    }
    # No clientCidrs configured: clients default to the VPC's CIDR.
    assert rules(run, INGRESS, "fra-lb") == {
        (443, "172.31.0.0/16"),
        (7999, "172.31.0.0/16"),
        (443, "203.0.113.10/32"),
        (443, "203.0.113.11/32"),
    }
    assert rules(run, EGRESS, "fra-lb") == {(7990, "fra-nodes"), (7999, "fra-nodes")}
    # Egress to the primary on 443 and on its (non-default) SSH port, and Hazelcast to its own nodes.
    assert rules(run, EGRESS, "fra-nodes") == {(443, "0.0.0.0/0"), (7998, "0.0.0.0/0"), (5701, "fra-nodes")}


def test_hazelcast_only_between_a_farms_own_nodes(runs):
    for stack, site in (("farm-3", "iad"), ("single-acm", "fra")):
        farm = runs[stack]
        assert (5701, f"{site}-nodes") in rules(farm, INGRESS, f"{site}-nodes")
        assert (5701, f"{site}-nodes") in rules(farm, EGRESS, f"{site}-nodes")
        assert not any(port == 5701 for port, _ in rules(farm, INGRESS, f"{site}-lb"))
        hazelcast = [r for r in farm.of_type(INGRESS) if r.inputs["fromPort"] == 5701]
        assert all(r.inputs.get("cidrIpv4") is None and r.inputs.get("cidrIpv6") is None for r in hazelcast)
    for rule in runs["single-nginx"].of_type(INGRESS):
        assert rule.inputs["fromPort"] != 5701, "Hazelcast open on an nginx node, which is never in a farm"


@pytest.mark.parametrize("stack", ["single-nginx", "single-acm", "farm-3", "two-sites", "example", "farm", "fleet"])
def test_ssh_22_is_never_open_to_the_world(runs, stack):
    ssh_rules = [r for r in runs[stack].of_type(INGRESS) if r.inputs["fromPort"] <= 22 <= r.inputs["toPort"]]
    assert ssh_rules, "installation needs SSH from somewhere"
    for rule in ssh_rules:
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0" and rule.inputs.get("cidrIpv6") != "::/0"
    for rule in runs[stack].of_type(INGRESS):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", "no ingress is open to the whole internet"


def test_bastion_address_may_reach_ssh(runs):
    run = runs["two-sites"]
    assert rules(run, INGRESS, "syd-nodes") == {
        (7990, "syd-lb"),
        (7999, "syd-lb"),
        (22, "10.1.2.3/32"),
        (5701, "syd-nodes"),
    }
    # Installing through a bastion: nodes get no public address.
    for instance in run.of_type(INSTANCE):
        assert instance.inputs["associatePublicIpAddress"] is False
    # Ubuntu's package mirrors answer on plain HTTP.
    assert (80, "0.0.0.0/0") in rules(run, EGRESS, "mel-nodes")
    assert (80, "0.0.0.0/0") not in rules(run, EGRESS, "syd-nodes")


# (client CIDRs, primary CIDRs) -> whether the load balancer must be internal.
EXPOSURE = [
    (["10.0.0.0/8"], ["10.20.0.5/32"], True),  # every allowed source is private
    (["10.0.0.0/8", "172.16.0.0/12"], [], True),
    (["10.0.0.0/8", "52.95.110.0/24"], ["10.20.0.5/32"], False),  # one public client network
    (["10.0.0.0/8"], ["52.94.76.10/32"], False),  # a primary reaching in from the internet
    (["fd00::/8"], ["10.20.0.5/32"], True),  # unique-local IPv6 is private
]


@pytest.mark.parametrize("clients, primary, internal", EXPOSURE)
def test_load_balancer_is_internal_exactly_when_every_source_is_private(clients, primary, internal):
    run = run_with("single-acm", network={"clientCidrs": clients}, primary={"cidrs": primary})
    (lb,) = run.of_type(NLB)
    assert lb.inputs["internal"] is internal


def test_nodes_have_a_public_address_only_when_installed_without_a_bastion():
    direct = run_with("single-acm")
    assert all(i.inputs["associatePublicIpAddress"] is True for i in direct.of_type(INSTANCE))
    through_bastion = run_program(STACKS / "two-sites.yaml")
    assert all(i.inputs["associatePublicIpAddress"] is False for i in through_bastion.of_type(INSTANCE))


def test_security_groups_revoke_their_rules_on_delete():
    for group in run_program(STACKS / "farm-3.yaml").of_type(GROUP):
        assert group.inputs["revokeRulesOnDelete"] is True
