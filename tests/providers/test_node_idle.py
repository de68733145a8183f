"""How a drain asks a node whether a client is still on it (providers/node_idle.py): `ss` through SSM
Run Command, the load balancer's own addresses (its health checks) left out, and a settle time."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

import providers.clock
import providers.node_idle as node_idle
from providers.node_idle import LIST_CONNECTIONS, IdleWatch, NodeConnections, client_connections

LB = ("10.40.0.17", "10.41.0.9")
# What `ss -Htn state established '( sport = :7990 or sport = :7999 )'` prints on a node whose Java
# listens on a dual-stack socket: a clone over HTTPS from inside the VPC, one over SSH, two health
# checks from the load balancer, and an IPv6 client.
SS = (
    "0      0      [::ffff:10.20.0.5]:7990      [::ffff:10.20.3.44]:51234\n"
    "0      0      [::ffff:10.20.0.5]:7999      [::ffff:192.0.2.10]:40022\n"
    "0      0      [::ffff:10.20.0.5]:7990      [::ffff:10.40.0.17]:30001\n"
    "0      0      10.20.0.5:7990      10.41.0.9:30002\n"
    "0      0      [2001:db8::5]:7999      [2001:db8::77]:50000\n"
)


def test_clients_are_counted_and_the_load_balancers_health_checks_are_not():
    assert client_connections(SS, LB) == 3
    # a client inside the VPC counts: only the load balancer's exact addresses are left out
    assert client_connections(SS, ()) == 5


def test_only_bitbucket_ports_count():
    assert client_connections("0 0 10.20.0.5:22 198.51.100.4:50000\n0 0 10.20.0.5:5701 10.20.0.6:41000\n", ()) == 0


def test_an_empty_answer_is_an_idle_node():
    assert client_connections("", LB) == 0


def test_idle_only_after_the_settle_time_of_empty_answers():
    watch = IdleWatch(settle_s=10)
    assert watch.observe(0, 0.0) is False
    assert watch.observe(0, 5.0) is False
    assert watch.observe(0, 10.0) is True


def test_a_connection_seen_again_starts_the_settle_time_over():
    watch = IdleWatch(settle_s=10)
    assert watch.observe(0, 0.0) is False
    assert watch.observe(1, 5.0) is False
    assert watch.observe(0, 10.0) is False
    assert watch.observe(0, 15.0) is False
    assert watch.observe(0, 20.0) is True


def test_an_unknown_answer_is_busy():
    watch = IdleWatch(settle_s=10)
    watch.observe(0, 0.0)
    assert watch.observe(None, 10.0) is False
    assert watch.observe(0, 15.0) is False


# --- the SSM exchange ------------------------------------------------------------------------------
COMMAND_ID = "7b3d9c5e-0f1a-4e2b-9c3d-5e6f7a8b9c0d"
INSTANCE = "i-0123456789abcdef0"


@pytest.fixture
def no_sleep(monkeypatch):
    monkeypatch.setattr(providers.clock, "sleep", lambda _s: None)


def _stubbed(monkeypatch) -> Stubber:
    import boto3

    client = boto3.client(
        "ssm", region_name="eu-central-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(node_idle, "ssm", lambda _region: client)
    return Stubber(client)


def _sent(stub: Stubber) -> None:
    stub.add_response(
        "send_command",
        {"Command": {"CommandId": COMMAND_ID, "Status": "Pending"}},
        {
            "InstanceIds": [INSTANCE],
            "DocumentName": "AWS-RunShellScript",
            "Parameters": {"commands": [LIST_CONNECTIONS]},
            "TimeoutSeconds": 30,
            "Comment": "bitbucket-mirrors: is the node idle before it leaves?",
        },
    )


def _invocation(stub: Stubber, status: str, output: str = "") -> None:
    stub.add_response(
        "get_command_invocation",
        {"CommandId": COMMAND_ID, "InstanceId": INSTANCE, "Status": status, "StandardOutputContent": output},
        {"CommandId": COMMAND_ID, "InstanceId": INSTANCE},
    )


def test_the_node_is_asked_through_run_command_and_its_answer_read_when_it_is_done(monkeypatch, no_sleep):
    stub = _stubbed(monkeypatch)
    _sent(stub)
    stub.add_client_error("get_command_invocation", "InvocationDoesNotExist")  # not listed yet
    _invocation(stub, "InProgress")
    _invocation(stub, "Success", SS)
    with stub:
        assert NodeConnections("eu-central-1", INSTANCE, frozenset(LB)).count() == 3
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "TimedOut"])
def test_a_command_that_did_not_succeed_is_no_answer(monkeypatch, no_sleep, status):
    stub = _stubbed(monkeypatch)
    _sent(stub)
    _invocation(stub, status)
    with stub:
        assert NodeConnections("eu-central-1", INSTANCE).count() is None


def test_a_node_ssm_cannot_reach_is_no_answer(monkeypatch, no_sleep):
    stub = _stubbed(monkeypatch)
    stub.add_client_error("send_command", "InvalidInstanceId")  # no agent online
    with stub:
        assert NodeConnections("eu-central-1", INSTANCE).count() is None


def test_an_answer_cut_at_run_commands_limit_is_no_answer(monkeypatch, no_sleep):
    stub = _stubbed(monkeypatch)
    _sent(stub)
    _invocation(stub, "Success", "0 0 10.20.0.5:7990 10.20.3.44:51234\n" * 700)
    with stub:
        assert NodeConnections("eu-central-1", INSTANCE).count() is None


def test_the_load_balancers_addresses_are_its_network_interfaces(monkeypatch):
    import boto3

    client = boto3.client(
        "ec2", region_name="eu-central-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(node_idle, "ec2", lambda _region: client)
    stub = Stubber(client)
    stub.add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {"PrivateIpAddress": "10.40.0.17", "PrivateIpAddresses": [{"PrivateIpAddress": "10.40.0.17"}]},
                {"PrivateIpAddress": "10.41.0.9", "PrivateIpAddresses": [{"PrivateIpAddress": "10.41.0.9"}]},
            ]
        },
        {"Filters": [{"Name": "description", "Values": ["ELB net/iad-nlb/0123456789abcdef"]}]},
    )
    with stub:
        assert node_idle.load_balancer_addresses("eu-central-1", "net/iad-nlb/0123456789abcdef") == frozenset(LB)


def test_a_command_that_does_not_end_within_its_answer_time_is_no_answer(monkeypatch, modelled):
    stub = _stubbed(monkeypatch)
    _sent(stub)
    for _ in range(3):
        _invocation(stub, "InProgress")
    looks: list[float] = []
    real = stub.client.get_command_invocation
    monkeypatch.setattr(stub.client, "get_command_invocation", lambda **kw: looks.append(modelled[0]) or real(**kw))
    with stub:
        assert NodeConnections("eu-central-1", INSTANCE, answer_s=3, poll_s=1).count() is None
    stub.assert_no_pending_responses()
    # A look every poll from one poll after SendCommand (the invocation is not listed at once), the
    # last at its answer time: given up there, not before and not later.
    assert looks == [1, 2, 3] and modelled[0] == 3
