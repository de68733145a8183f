"""RolloutPlan states a site's shape once: a plan that contradicts itself is refused when it is built,
before any resource is registered from it (a site that said `multi_node` with one node would open an
upgrade window for a farm that is not there)."""

from __future__ import annotations

import pytest

from components.plan import NodePlan, RolloutPlan
from tests.resource_types import DYNAMIC, NODE_RETURN


def node(i: int) -> NodePlan:
    return NodePlan(name=f"iad-node{i}", host=None, instance_tags={}, user_data_digest="d")


def plan(nodes: int, multi_node: bool, behind_lb: bool, load_balancer=None) -> RolloutPlan:
    return RolloutPlan(
        name="iad",
        stack="test",
        site=None,
        ca_bundle=None,
        nodes=tuple(node(i) for i in range(nodes)),
        install=None,
        multi_node=multi_node,
        clustered=behind_lb,
        behind_lb=behind_lb,
        load_balancer=load_balancer,
    )


class StandInBalancer:
    target_groups = ["tg"]
    arn_suffix = "net/iad/1"


def test_a_consistent_plan_is_accepted_and_names_its_balancer():
    three = plan(3, multi_node=True, behind_lb=True, load_balancer=StandInBalancer())
    assert (three.target_groups, three.lb_arn_suffix) == (["tg"], "net/iad/1")
    one = plan(1, multi_node=False, behind_lb=False)
    assert (one.target_groups, one.lb_arn_suffix) == ([], None)


@pytest.mark.parametrize(("nodes", "multi_node"), [(1, True), (2, False), (3, False)])
def test_multi_node_that_contradicts_the_nodes_is_refused(nodes, multi_node):
    with pytest.raises(ValueError, match=f"multi_node={multi_node} with {nodes} node"):
        plan(nodes, multi_node=multi_node, behind_lb=False)


def test_behind_lb_without_a_balancer_is_refused():
    with pytest.raises(ValueError, match="behind_lb=True with load_balancer=None"):
        plan(2, multi_node=True, behind_lb=True)


def test_a_balancer_on_a_site_not_behind_one_is_refused():
    with pytest.raises(ValueError, match="behind_lb=False"):
        plan(1, multi_node=False, behind_lb=False, load_balancer=StandInBalancer())


# What the plan's three names reach, on the program's own stacks: the providers' inputs all say `farm`
# (a name in every stack's state), each for one of the three facts.
@pytest.mark.parametrize(
    ("stack", "site", "multi_node", "clustered"),
    [("farm-3", "iad", True, True), ("single-acm", "fra", False, True), ("single-nginx", "syd", False, False)],
)
def test_each_step_receives_the_fact_it_is_decided_by(runs, stack, site, multi_node, clustered):
    run = runs[stack]
    # The upgrade window coordinates several nodes: a one-node farm behind a load balancer has none to.
    assert run.one(DYNAMIC + "UpgradeWindow", f"{site}-upgrade").inputs["farm"] is multi_node
    # A node is back once its farm lists it: any clustered node, one or several.
    assert run.one(NODE_RETURN, f"{site}-node0-return").inputs["farm"] is clustered
    assert run.one(DYNAMIC + "InstanceStartReturn", f"{site}-node0-start-return").inputs["farm"] is clustered
    # The upgrade's finish ends a multi-node window, and only exists for one.
    assert len(run.of_type(DYNAMIC + "UpgradeFinish")) == (1 if multi_node else 0)
