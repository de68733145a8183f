"""The twin's clients: a clone goes through DNS and the load balancer's listener to a target the load
balancer would pick, and fails when a real one would (nothing answers, its node stops, its load
balancer goes); a drained node keeps the clones it has."""

from __future__ import annotations

import pytest

from twin.clients import Clients, Workload
from twin.clock import Scheduler
from twin.world import World
from twin.world_objects import HealthCheck, Instance, LoadBalancer, Run, TargetGroup

HOST = "mirror.example.com"
LB_DNS = "iad-lb-1.elb.us-east-1.amazonaws.com"
# One clone a minute, every one HTTPS and 100 s long: easy to reason about.
STEADY = Workload(per_minute=1.0, https_share=1.0, lengths=((100.0, 1.0),), seed=1, source="test")


@pytest.fixture
def world():
    sched = Scheduler()
    yield World(sched)
    sched.stop()


def _node(world: World, name: str, since: float = 0.0) -> Instance:
    address = f"10.0.0.{len(world.instances) + 10}"
    instance = Instance(f"i-{name}", name, "us-east-1", "us-east-1a", "m6i.xlarge", address, False, {}, "")
    instance.states = [(since, "running")]
    instance.state = "running"
    instance.runs = [Run(0.0, "stopped"), Run(since, "running", "9.4.16", "m")]
    world.instances[instance.id] = instance
    return instance


def _balanced(world: World, *nodes: Instance, https: bool = True) -> TargetGroup:
    group = TargetGroup("arn:tg/https", "https", 7990, HealthCheck(15, 3, 3), deregistration_delay=300)
    world.target_groups[group.arn] = group
    lb = LoadBalancer("arn:lb", LB_DNS, "us-east-1", active_at=0.0, listeners={443: group.arn} if https else {})
    world.load_balancers[lb.arn] = lb
    world.dns[HOST] = ("lb", LB_DNS)
    for node in nodes:
        world.sched.now = 0.0
        world.register(group, node.id)
    return group


def _clients(world: World, workload: Workload = STEADY, announced=lambda site, t: True) -> Clients:
    return Clients(world, hosts=lambda: {"iad": HOST}, announced=announced, workload=workload)


def _stop_bitbucket(instance: Instance, at: float) -> None:
    instance.runs.append(Run(at, "stopped", "9.4.16"))


def test_clones_through_a_load_balancer_with_healthy_nodes_all_succeed(world):
    a, b = _node(world, "iad-node0"), _node(world, "iad-node1")
    _balanced(world, a, b)
    clients = _clients(world)
    clients.advance(0.0, 1800.0)
    clients.finish(1800.0)
    seen = clients.between("iad", 60.0, 1800.0)
    assert seen["started"] > 20 and seen["failed"] == 0
    # The load balancer spreads them: both nodes served some (a flow hash, not always the first).
    assert {c.node for c in clients.clones if c.at >= 60.0} == {a.id, b.id}


def test_no_clone_reaches_a_target_before_its_health_checks_pass(world):
    """Registered at 0 with checks every 15 s and a threshold of 3: unhealthy at 45 s. Before that
    the only target is `initial`, which gets no traffic; then no target is healthy and the NLB fails
    open to the unhealthy one, which does not answer."""
    a = _node(world, "iad-node0")
    _balanced(world, a)
    _stop_bitbucket(a, 0.0)  # registered, but Bitbucket is down: nothing answers the fail-open
    clients = _clients(world, Workload(per_minute=6.0, https_share=1.0, lengths=((5.0, 1.0),), seed=3, source="t"))
    clients.advance(0.0, 600.0)
    assert clients.between("iad", 0.0, 600.0)["failed"] == clients.between("iad", 0.0, 600.0)["started"] > 0
    assert all(("no target behind" if c.at < 45 else "does not answer") in c.why for c in clients.clones)
    assert {c.at < 45 for c in clients.clones} == {True, False}


def test_a_node_that_stops_during_a_clone_cuts_it_and_the_failure_is_counted(world):
    a = _node(world, "iad-node0")
    _balanced(world, a)
    _stop_bitbucket(a, 900.0)
    clients = _clients(world)
    clients.advance(0.0, 1800.0)
    clients.finish(1800.0)
    cut = [c for c in clients.clones if c.why.startswith("cut")]
    assert cut and all(c.at < 900.0 < c.end and c.failed_at == 900.0 for c in cut)
    # Clones that ended before the stop are not counted as failed.
    assert all(c.failed_at is None for c in clients.clones if c.end <= 900.0 and c.at >= 45.0)


def test_a_drained_node_keeps_its_clones_until_they_end(world):
    """Deregistered at 600 s: the NLB sends it no new connection but lets the ones it has finish
    (deregistration delay, connection termination off); the node stops after they have."""
    a, b = _node(world, "iad-node0"), _node(world, "iad-node1")
    group = _balanced(world, a, b)
    clients = _clients(world)
    clients.advance(0.0, 600.0)
    world.sched.now = 600.0
    world.deregister(group, a.id)
    clients.advance(600.0, 900.0)
    _stop_bitbucket(a, 900.0)
    clients.advance(900.0, 1800.0)
    clients.finish(1800.0)
    assert clients.between("iad", 45.0, 1800.0)["failed"] == 0
    assert all(c.node == b.id for c in clients.clones if c.at > 600.0)


def test_stopping_a_node_before_its_clones_end_is_seen_where_a_node_count_says_nothing(world):
    """Two nodes, one stopped right after it was deregistered: a node count says one serves all
    along; the clones it had are cut."""
    a, b = _node(world, "iad-node0"), _node(world, "iad-node1")
    group = _balanced(world, a, b)
    clients = _clients(world, Workload(per_minute=6.0, https_share=1.0, lengths=((100.0, 1.0),), seed=5, source="t"))
    clients.advance(0.0, 600.0)
    world.sched.now = 600.0
    world.deregister(group, a.id)
    _stop_bitbucket(a, 601.0)
    clients.advance(600.0, 1200.0)
    clients.finish(1200.0)
    # From 45 s, when the targets pass their checks (before, in `initial`, no target takes a clone).
    failed = clients.failures("iad", 45.0, 1200.0)
    assert failed and all(c.node == a.id and c.failed_at == 601.0 for c in failed)


def test_a_clone_fails_when_the_name_does_not_resolve_or_nothing_listens(world):
    a = _node(world, "iad-node0")
    _balanced(world, a, https=False)  # the load balancer has no 443 listener
    clients = _clients(world)
    clients.advance(0.0, 300.0)
    assert clients.clones and all("no load balancer listening" in c.why for c in clients.clones)
    world.dns.clear()
    clients.advance(300.0, 600.0)
    assert all("does not resolve" in c.why for c in clients.clones if c.at >= 300.0)


def test_deleting_the_load_balancer_cuts_the_clones_it_carries(world):
    a = _node(world, "iad-node0")
    _balanced(world, a)
    clients = _clients(world, Workload(per_minute=6.0, https_share=1.0, lengths=((100.0, 1.0),), seed=5, source="t"))
    clients.advance(0.0, 500.0)
    under_way = [c for c in clients.clones if c.at < 500.0 < c.end and c.failed_at is None]
    world.load_balancers.clear()
    clients.advance(500.0, 510.0)
    assert under_way and all(c.why == "its load balancer or listener was deleted" for c in under_way)


def test_a_single_node_is_reached_by_its_address(world):
    a = _node(world, "fra-node0")
    world.dns[HOST] = ("ip", a.private_ip)
    _stop_bitbucket(a, 400.0)
    a.runs.append(Run(500.0, "running", "9.4.17", "m"))
    clients = _clients(world, Workload(per_minute=6.0, https_share=0.5, lengths=((5.0, 1.0),), seed=9, source="t"))
    clients.advance(0.0, 900.0)
    clients.finish(900.0)
    failed = clients.failures("iad", 0.0, 900.0)
    assert failed and all(400.0 <= c.at < 500.0 and "refused" in c.why for c in failed)
    assert clients.between("iad", 500.0, 900.0)["failed"] == 0


def test_clients_wait_for_the_site_to_be_announced_and_count_in_flight_clones_per_node(world):
    a = _node(world, "iad-node0")
    _balanced(world, a)
    busy = Workload(per_minute=6.0, https_share=1.0, lengths=((100.0, 1.0),), seed=1, source="t")
    clients = _clients(world, busy, announced=lambda site, t: t >= 300.0)
    clients.advance(0.0, 1000.0)
    assert clients.clones and min(c.at for c in clients.clones) >= 300.0
    # What the node would say now, when the clock stands at 1000 s.
    running = [c for c in clients.clones if c.at <= 1000.0 < c.end]
    assert clients.in_flight(a.id, 1000.0) == len(running) > 0


def test_the_same_workload_gives_the_same_clones():
    def play() -> list[tuple[float, float, str]]:
        sched = Scheduler()
        world = World(sched)
        try:
            _balanced(world, _node(world, "iad-node0"))
            clients = _clients(world, Workload(4.0, 0.7, ((15.0, 0.5), (270.0, 0.5)), seed=11, source="t"))
            clients.advance(0.0, 3600.0)
            return [(c.at, c.seconds, c.protocol) for c in clients.clones]
        finally:
            sched.stop()

    first = play()
    assert first == play() and {p for _, _, p in first} == {"https", "ssh"}


def test_a_site_that_serves_when_an_up_ends_has_clients_from_then_on_even_before_any_arrived(world):
    """A first `up` that ends as the site starts serving: its users clone through the next `up`, and
    an outage there fails their clones (they are not waiting for the site to serve again)."""
    a = _node(world, "iad-node0")
    _balanced(world, a)
    clients = _clients(world, announced=lambda site, t: t < 10.0 or t >= 400.0)
    clients.finish(5.0)  # no clone arrived during the first up, but the site served at its end
    _stop_bitbucket(a, 100.0)
    clients.advance(100.0, 400.0)
    assert clients.between("iad", 100.0, 400.0)["failed"] > 0


def test_the_workload_is_one_timeline_whatever_the_site_does(world):
    """Which clones arrive when does not depend on when the site was announced or how the up went:
    a change that shifts the rollout by seconds does not reshuffle every clone after it."""

    def arrivals(announced_from: float) -> list[tuple[float, float, str]]:
        sched = Scheduler()
        other = World(sched)
        try:
            _balanced(other, _node(other, "iad-node0"))
            clients = _clients(other, announced=lambda site, t: t >= announced_from)
            clients.advance(0.0, 1800.0)
            return [(c.at, c.seconds, c.protocol) for c in clients.clones]
        finally:
            sched.stop()

    early, late = arrivals(100.0), arrivals(700.0)
    assert late and late == [c for c in early if c[0] >= late[0][0]]
