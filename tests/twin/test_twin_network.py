"""The twin's network and IAM (twin/network.py and the world's flows that ask it): each rule of
security groups, IAM evaluation, health checks, fail-open, DNS TTL and the modelled approval time,
with a test that fails when the rule flips; and whole stacks whose SSH rule or node policy is wrong
failing in the twin as they would in AWS."""

from __future__ import annotations

import json
import threading
import types
from pathlib import Path

import pytest
import yaml

from twin.clock import Scheduler
from twin.network import Endpoint, Network, Rule
from twin.node import Node
from twin.program import STACKS
from twin.world import World
from twin.world_objects import DEPLOYER, PRIMARY, HealthCheck, LoadBalancer, TargetGroup

NODES, LB_SG = "sg-nodes", "sg-lb"


def _net(*rules: Rule) -> Network:
    network = Network()
    for rule in rules:
        network.add_rule(rule)
    return network


def _in(port: int, cidr: str | None = None, group: str | None = None, on: str = NODES, **kw) -> Rule:
    return Rule(f"in-{on}-{port}-{cidr}-{group}", on, "ingress", "tcp", (port, port), cidr=cidr, group=group, **kw)


def _out(port: int, cidr: str | None = None, group: str | None = None, on: str = NODES) -> Rule:
    return Rule(f"out-{on}-{port}-{cidr}-{group}", on, "egress", "tcp", (port, port), cidr=cidr, group=group)


NODE = Endpoint("10.20.0.10", (NODES,), "node0")
DEPLOYER_HOST = Endpoint(DEPLOYER, name="deployer")


# --- security group rules ----------------------------------------------------------------------------
def test_an_ingress_rule_lets_in_its_cidr_on_its_port_and_nothing_else():
    network = _net(_in(22, "198.51.100.7/32"))
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 0) is None
    assert "no ingress rule" in network.blocked(DEPLOYER_HOST, NODE, 2222, 0)  # another port
    assert "no ingress rule" in network.blocked(Endpoint("198.51.100.8"), NODE, 22, 0)  # another address


def test_a_group_with_no_ingress_rule_lets_nothing_in():
    assert "no ingress rule" in _net().blocked(DEPLOYER_HOST, NODE, 22, 0)


def test_a_rule_for_another_protocol_or_another_group_does_not_allow():
    udp = Rule("udp", NODES, "ingress", "udp", (22, 22), cidr="0.0.0.0/0")
    other = _in(22, "0.0.0.0/0", on="sg-other")
    assert _net(udp, other).blocked(DEPLOYER_HOST, NODE, 22, 0) is not None
    everything = Rule("all", NODES, "ingress", "-1", (0, 65535), cidr="0.0.0.0/0")
    assert _net(everything).blocked(DEPLOYER_HOST, NODE, 22, 0) is None


def test_a_rule_referencing_a_group_admits_what_carries_that_group_whatever_its_address():
    network = _net(_in(7990, group=LB_SG), _out(7990, group=NODES, on=LB_SG))
    assert network.blocked(Endpoint("203.0.113.99", (LB_SG,)), NODE, 7990, 0) is None
    assert network.blocked(Endpoint("203.0.113.99", ("sg-else",)), NODE, 7990, 0) is not None


def test_the_sender_needs_an_egress_rule_as_terraform_removes_the_default_one():
    ingress = _in(5701, group=NODES)
    other = Endpoint("10.20.0.11", (NODES,), "node1")
    assert "no egress rule" in _net(ingress).blocked(NODE, other, 5701, 0)
    assert _net(ingress, _out(5701, group=NODES)).blocked(NODE, other, 5701, 0) is None


def test_a_rule_allows_only_between_its_create_and_its_delete():
    rule = _in(22, "198.51.100.7/32", since=10.0)
    network = _net(rule)
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 9.9) is not None
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 10.0) is None
    network.remove_rule(rule.id, 50.0)
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 49.9) is None
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 50.0) is not None


def test_deleting_a_group_ends_its_rules():
    network = _net(_in(22, "198.51.100.7/32"))
    network.remove_group(NODES, 5.0)
    assert network.blocked(DEPLOYER_HOST, NODE, 22, 6.0) is not None


# --- IAM ---------------------------------------------------------------------------------------------
def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/bitbucket-mirrors/s/node0/ssh-host-ed25519-key"


def test_a_role_may_call_only_the_actions_and_resources_its_policy_allows():
    network = Network()
    network.attach_policy("role", "read", _policy({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": ARN}))
    assert network.role_allows("role", "ssm:GetParameter", ARN, {})
    assert network.role_allows("role", "SSM:getparameter", ARN, {})  # actions are case-insensitive
    assert not network.role_allows("role", "ssm:GetParameters", ARN, {})
    assert not network.role_allows("role", "ssm:GetParameter", ARN.replace("node0", "node1"), {})
    assert not network.role_allows("other", "ssm:GetParameter", ARN, {})


def test_a_condition_must_hold_and_a_missing_key_does_not_match():
    network = Network()
    condition = {"StringEquals": {"ec2:Region": "us-east-1"}}
    statement = {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*", "Condition": condition}
    network.attach_policy("role", "discover", _policy(statement))
    assert network.role_allows("role", "ec2:DescribeInstances", "*", {"ec2:Region": "us-east-1"})
    assert not network.role_allows("role", "ec2:DescribeInstances", "*", {"ec2:Region": "eu-west-1"})
    assert not network.role_allows("role", "ec2:DescribeInstances", "*", {})


def test_an_explicit_deny_wins_and_a_refused_call_is_access_denied():
    network = Network()
    network.attach_policy("role", "all", _policy({"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}))
    network.attach_policy("role", "deny", _policy({"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": ARN}))
    assert not network.call("node0", "role", "ssm:GetParameter", ARN, {}, 3.0)
    assert network.denied[-1] == (
        3.0,
        f"AccessDenied: node0 (role role) is not authorized to perform: ssm:GetParameter on resource: {ARN}",
    )
    network.detach_policy("role", "deny")
    assert network.call("node0", "role", "ssm:GetParameter", ARN, {}, 4.0)


# --- the world's flows -------------------------------------------------------------------------------
@pytest.fixture
def world():
    sched = Scheduler()
    yield World(sched)
    sched.stop()


def _running(world: World, name: str = "n", groups=(NODES,)):
    instance = world.launch(name, "us-east-1", "us-east-1a", "m6i.xlarge", True, {"Name": name}, "", groups)
    instance.runs.append(type(instance.runs[0])(world.now, "running", "9.4.16", "m"))
    return instance


def _behind_lb(world: World, check: HealthCheck, port: int = 7990, lb_groups=(LB_SG,)) -> TargetGroup:
    group = TargetGroup("arn:tg", "tg", port, check, deregistration_delay=300)
    world.target_groups[group.arn] = group
    lb = LoadBalancer("arn:lb", "lb.example", "us-east-1", active_at=0, listeners={443: group.arn})
    lb.security_groups = tuple(lb_groups)
    world.load_balancers[lb.arn] = lb
    world.set_record("mirror.example.com", ("lb", lb.dns_name), 60)
    return group


def _lb_rules(world: World, *ports: int) -> None:
    for port in ports:
        world.network.add_rule(_in(port, group=LB_SG))
        world.network.add_rule(_out(port, group=NODES, on=LB_SG))


STATUS = dict(interval=10, healthy_threshold=3, unhealthy_threshold=2, protocol="HTTP", port="7990", path="/status")


def _health_after(world: World, group: TargetGroup, instance, seconds: float) -> str:
    world.register(group, instance.id)
    world.sched.now += seconds
    return world.health(group, instance.id, world.now)[0]


def test_a_health_check_as_the_program_configures_it_passes(world):
    _lb_rules(world, 7990)
    group = _behind_lb(world, HealthCheck(**{**STATUS, "matcher": "200"}))
    assert _health_after(world, group, _running(world), 30) == "healthy"


@pytest.mark.parametrize(
    "change",
    [
        {"port": "7999"},  # Bitbucket's SSH port speaks no HTTP
        {"port": "8080"},  # nothing listens
        {"protocol": "HTTPS"},  # 7990 is plain HTTP
        {"path": "/"},  # a redirect to the login page, not 200
    ],
)
def test_a_health_check_on_the_wrong_port_protocol_or_path_marks_the_target_unhealthy(world, change):
    _lb_rules(world, 7990, 7999, 8080)
    group = _behind_lb(world, HealthCheck(**{**STATUS, "matcher": "200", **change}))
    assert _health_after(world, group, _running(world), 20) == "unhealthy"


def test_a_redirect_passes_a_matcher_that_accepts_it(world):
    _lb_rules(world, 7990)
    group = _behind_lb(world, HealthCheck(**{**STATUS, "path": "/", "matcher": "200-399"}))
    assert _health_after(world, group, _running(world), 30) == "healthy"


def test_a_tcp_check_on_the_traffic_port_needs_only_a_listener(world):
    _lb_rules(world, 7999)
    check = HealthCheck(interval=10, healthy_threshold=3, unhealthy_threshold=2)
    group = _behind_lb(world, check, port=7999)
    assert _health_after(world, group, _running(world), 30) == "healthy"


def test_the_thresholds_and_interval_decide_when_a_target_changes_state(world):
    _lb_rules(world, 7990)
    group = _behind_lb(world, HealthCheck(**{**STATUS, "healthy_threshold": 5}))
    instance = _running(world)
    assert _health_after(world, group, instance, 49) == "initial"  # 4 checks of the 5 needed
    world.sched.now += 1
    assert world.health(group, instance.id, world.now)[0] == "healthy"


def test_a_health_check_the_nodes_security_group_does_not_admit_fails(world):
    world.network.add_rule(_out(7990, group=NODES, on=LB_SG))  # out of the LB, but not into the node
    group = _behind_lb(world, HealthCheck(**STATUS))
    assert _health_after(world, group, _running(world), 20) == "unhealthy"


def test_a_health_check_the_load_balancers_group_does_not_let_out_fails(world):
    world.network.add_rule(_in(7990, group=LB_SG))
    group = _behind_lb(world, HealthCheck(**STATUS))
    assert _health_after(world, group, _running(world), 20) == "unhealthy"


def test_with_client_ip_preserved_a_target_sees_the_clients_address_else_the_load_balancers(world):
    world.network.add_rule(_out(7990, "0.0.0.0/0", on=LB_SG))
    world.network.add_rule(_in(7990, "10.0.0.0/8"))  # clients' range, not the LB's group
    group = _behind_lb(world, HealthCheck(**STATUS))
    lb = world.load_balancers["arn:lb"]
    lb.address = "172.31.5.5"
    instance = _running(world)
    assert world.lb_reaches(lb, instance, world.now, client="10.1.1.1")
    assert not world.lb_reaches(lb, instance, world.now, client="192.168.1.1")
    group.preserve_client_ip = False
    assert not world.lb_reaches(lb, instance, world.now, client="10.1.1.1")


def test_fail_open_routes_to_targets_that_failed_their_checks_not_to_those_in_initial(world):
    _lb_rules(world, 7990)
    group = _behind_lb(world, HealthCheck(**STATUS))
    instance = _running(world)
    world.register(group, instance.id)
    assert world.serving("mirror.example.com", world.now) == (0, False)  # initial: no target yet
    world.network.rules.clear()  # every check now fails...
    world.network.add_rule(_in(7990, "0.0.0.0/0"))
    world.network.add_rule(_out(7990, "0.0.0.0/0", on=LB_SG))
    group.check.path, group.check.matcher = "/", "200"  # ...on a path that redirects
    world.sched.now += 20
    assert world.health(group, instance.id, world.now)[0] == "unhealthy"
    assert world.serving("mirror.example.com", world.now) == (0, True)  # all unhealthy: fail open


def test_a_client_keeps_the_old_answer_until_its_ttl_passes(world):
    world.set_record("mirror.example.com", ("ip", "10.0.0.1"), 300)
    world.sched.now = 100.0
    world.set_record("mirror.example.com", ("ip", "10.0.0.2"), 60)
    assert world.resolve("mirror.example.com", 399.0) == ("ip", "10.0.0.1")
    assert world.resolve("mirror.example.com", 400.0) == ("ip", "10.0.0.2")
    world.sched.now = 500.0
    world.set_record("mirror.example.com", None, 60)
    assert world.resolve("mirror.example.com", 559.0) == ("ip", "10.0.0.2")
    assert world.resolve("mirror.example.com", 560.0) is None
    assert 400.0 in world.change_times() and 560.0 in world.change_times()


def test_approval_follows_the_modelled_clock():
    from twin.twin import Twin

    mirror = types.SimpleNamespace(mirror_id="M")
    state = types.SimpleNamespace(approvals={"M": [(100.0, 250.0), (400.0, None)]})
    twin = types.SimpleNamespace(emu=types.SimpleNamespace(state=state), site_nodes=lambda s: [])
    twin._mirror_of = lambda nodes: mirror
    assert [Twin._approved_at(twin, None, t) for t in (99, 100, 249, 250, 400)] == [False, True, True, False, True]


# --- SSH to a node -----------------------------------------------------------------------------------
def _ssh(world: World, instance, connection: dict) -> tuple[str, float]:
    """Node.dial in a process of the modelled clock (as the engine's steps run), so its waits count."""
    world.sched.now = max(world.now, instance.ssh_ready_at)
    start, answer = world.now, []

    def dial() -> None:
        world.sched.enter("ssh")
        try:
            Node(world).dial({"host": instance.public_ip, "dialErrorLimit": 2, "perDialTimeout": 15, **connection})
            answer.append("ok")
        except Exception as exc:  # noqa: BLE001 - the message is what the test reads
            answer.append(str(exc))
        finally:
            world.sched.leave()

    thread = threading.Thread(target=dial, daemon=True)
    thread.start()
    thread.join(30)
    return answer[0], world.now - start


def test_ssh_from_the_deployer_needs_a_rule_for_its_address(world):
    instance = _running(world)
    world.network.add_rule(_in(22, f"{DEPLOYER}/32"))
    assert _ssh(world, instance, {}) == ("ok", 0.0)


def test_ssh_no_rule_allows_times_out_after_every_dial_attempt(world):
    instance = _running(world)
    world.network.add_rule(_in(22, "192.0.2.0/24"))  # the wrong admin range
    message, spent = _ssh(world, instance, {})
    assert message == f"Dial: after 2 failed attempts: dial tcp {instance.public_ip}:22: i/o timeout"
    assert spent >= 3 * 15  # dialErrorLimit + 1 attempts of perDialTimeout each


def test_ssh_through_the_bastion_needs_a_rule_for_the_bastion_and_waits_the_bastions_connect_timeout(world):
    instance = _running(world)
    world.network.add_rule(_in(22, f"{DEPLOYER}/32"))  # the deployer, but it goes through the bastion
    bastion = {"host": instance.private_ip, "proxy": {"host": "10.1.2.3"}}
    message, spent = _ssh(world, instance, bastion)
    assert message.startswith("proxy: after 2 failed attempts: ssh: rejected: connect failed (Connection timed out)")
    assert spent >= 3 * 127
    world.network.add_rule(_in(22, "10.1.2.3/32"))
    assert _ssh(world, instance, bastion)[0] == "ok"


# --- whole stacks --------------------------------------------------------------------------------------
def _stack(tmp_path: Path, name: str, edit) -> Path:
    document = yaml.safe_load((STACKS / f"{name}.yaml").read_text())
    edit(document["config"])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _first_up(stack: Path):
    from twin.twin import Twin

    twin = Twin([stack])
    try:
        return twin.up(stack), twin.world
    finally:
        twin.close()


def test_a_stack_whose_ssh_rule_admits_another_address_fails_its_install_with_a_connect_timeout(tmp_path):
    stack = _stack(
        tmp_path, "single-nginx", lambda c: c["bitbucket-mirrors:network"].update(adminCidrs=["192.0.2.0/24"])
    )
    result, world = _first_up(stack)
    assert "syd-node0" in result.error and "after 40 failed attempts" in result.error
    assert result.error.endswith(":22: i/o timeout")
    assert result.end - result.start >= 41 * 15  # pulumi-command dials 41 times, 15 s each
    assert any("SSH to syd-node0: no ingress rule" in what for _, what in world.network.denied)


def test_the_stack_as_shipped_installs(tmp_path):
    result, world = _first_up(_stack(tmp_path, "single-nginx", lambda c: None))
    assert result.error is None
    assert not world.network.denied


def test_a_node_policy_without_get_parameter_fails_the_host_key_read_and_the_install(tmp_path, monkeypatch):
    from components import host

    real = host.host_key_policy
    monkeypatch.setattr(
        host,
        "host_key_policy",
        lambda arn, region, key: real(arn, region, key).replace("ssm:GetParameter", "ssm:GetParameters"),
    )
    result, world = _first_up(_stack(tmp_path, "single-nginx", lambda c: None))
    assert "key mismatch (syd-node0)" in result.error
    assert any(
        "AccessDenied: syd-node0" in what and "ssm:GetParameter on resource: arn:aws:ssm:" in what
        for _, what in world.network.denied
    )


def test_a_farm_node_whose_role_cannot_list_instances_does_not_join_the_farm(world):
    node0, node1 = _running(world, "iad-node0"), _running(world, "iad-node1")
    for instance in (node0, node1):
        instance.profile = f"{instance.name}-profile"
        world.network.profiles[instance.profile] = f"{instance.name}-role"
    world.network.add_rule(_out(443, "0.0.0.0/0"))
    allow = {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}
    world.network.attach_policy("iad-node0-role", "discover", _policy(allow))
    assert world.node_calls(node0, "ec2:DescribeInstances", "*", {"ec2:Region": "us-east-1"})
    assert not world.node_calls(node1, "ec2:DescribeInstances", "*", {"ec2:Region": "us-east-1"})
    world.network.rules.clear()  # and without egress on 443 the call never reaches AWS
    assert not world.node_calls(node0, "ec2:DescribeInstances", "*", {"ec2:Region": "us-east-1"})
    assert "no egress rule" in world.network.denied[-1][1]


# --- a site removed from the stack ---------------------------------------------------------------------
def test_a_removed_sites_retire_runs_while_its_ssh_rule_still_stands(scenario):
    """Removing a site: its nodes' commands depend on the rules they need, so the engine deletes the
    SSH ingress rule after the retire that stops Bitbucket over SSH (before, the rule went first and
    the retire timed out through the bastion, on every later up too)."""
    report = scenario("site-removed")
    steps = {s["resource"]: s for s in report["steps"]}
    rule, retire = steps["SecurityGroupIngressRule mel-nodes-in-admin-ssh-0"], steps["Command mel-node0-retire"]
    assert retire["end"] <= rule["start"]
    assert report["error"] is None and report["second_up_changes"] == 0
    gone = report["removed_sites"]["mel"]
    assert gone["removed_from_primary"] and gone["instances_after"] == 0
    assert report["sites"]["syd"]["min_serving"] == 1  # the site that stays serves throughout


# --- who reaches a site on 443 and 7999 ----------------------------------------------------------------
@pytest.fixture(scope="module")
def fra():
    """single-acm after its first up (a node behind a load balancer), and the same stack with the
    primary's CIDRs pointing elsewhere."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shipped = _first_up(_stack(Path(tmp), "single-acm", lambda c: None))
        moved = _first_up(
            _stack(Path(tmp), "single-acm", lambda c: c["bitbucket-mirrors:primary"].update(cidrs=["192.0.2.1/32"]))
        )
    return shipped, moved


def test_the_primary_reaches_the_mirror_on_443_only_from_primary_cidrs(fra):
    (shipped, world), (_, moved) = fra
    assert shipped.error is None
    assert world.reaches_site("mirror-fra.example.com", PRIMARY, 443, world.now) is None
    refused = moved.reaches_site("mirror-fra.example.com", PRIMARY, 443, moved.now)
    assert refused.startswith("no ingress rule of load balancer") and f"from {PRIMARY}" in refused


def test_clients_in_client_cidrs_reach_443_and_7999_and_nobody_else_does(fra):
    (_, world), _ = fra
    client = "172.31.9.9"  # no clientCidrs: the VPC's CIDR (the default VPC's, 172.31.0.0/16)
    assert world.reaches_site("mirror-fra.example.com", client, 443, world.now) is None
    assert world.reaches_site("mirror-fra.example.com", client, 7999, world.now) is None
    assert world.reaches_site("mirror-fra.example.com", client, 22, world.now).startswith("no load balancer")
    assert world.reaches_site("mirror-fra.example.com", "192.0.2.50", 443, world.now) is not None


def test_the_deployer_at_admin_cidrs_is_not_let_in_on_443_where_the_providers_call_the_mirror(fra):
    """A finding, not a wish: the providers call the mirror's base URL from the machine that runs
    `pulumi up`, but only clientCidrs and primary.cidrs may reach 443. In AWS, a deployer outside
    clientCidrs (the stacks' adminCidrs address) times out there; the twin's front door does not
    enforce it yet (see the branch's report)."""
    (_, world), _ = fra
    assert world.reaches_site("mirror-fra.example.com", DEPLOYER, 443, world.now) is not None


# --- a node's flows when Bitbucket starts -------------------------------------------------------------
def _twin_over(world: World, primary: dict):
    config = {"bitbucket-mirrors:primary": json.dumps(primary)}
    return types.SimpleNamespace(world=world, engine=types.SimpleNamespace(config=config))


def test_farm_nodes_join_only_when_hazelcast_reaches_both_ways(world):
    from twin.twin import Twin

    a, b = _running(world, "iad-node0"), _running(world, "iad-node1")
    twin = _twin_over(world, {})
    world.network.add_rule(_in(5701, group=NODES))
    assert not Twin._hazelcast_reaches(twin, a, b, world.now)  # no egress rule on 5701
    world.network.add_rule(_out(5701, group=NODES))
    assert Twin._hazelcast_reaches(twin, a, b, world.now)
    b.security_groups = ("sg-else",)  # the other node in another group: neither way matches
    assert not Twin._hazelcast_reaches(twin, a, b, world.now)


def test_a_new_mirror_needs_the_primary_on_443_and_on_its_ssh_port(world):
    from twin.twin import Twin

    node = _running(world, "fra-node0")
    twin = _twin_over(world, {"sshPort": 7998})
    world.network.add_rule(_out(443, "0.0.0.0/0"))
    assert not Twin._reaches_primary(twin, node, world.now)
    world.network.add_rule(_out(7999, "0.0.0.0/0"))  # the default port, not the primary's
    assert not Twin._reaches_primary(twin, node, world.now)
    world.network.add_rule(_out(7998, "0.0.0.0/0"))
    assert Twin._reaches_primary(twin, node, world.now)
