"""What a change will cost clients reaches `pulumi preview` as a warning attributed to the site: the
provider host the engine starts gets the engine's address as its last argument, and the providers
call the engine's Log service with it (pulumi/pulumi provider_plugin.go NewProvider; the engine's
display lists a WARNING with a URN under that resource, `--diff` or not)."""

from __future__ import annotations

import json
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from tests.harness import run_program
from tests.resource_types import SITE as MIRROR_SITE
from twin.provider_host.registration import _reveal, stack_config

from .conftest import PASSWORD

SITE = f"urn:pulumi:stack::bitbucket-mirrors::{MIRROR_SITE}::fra"
PROGRAM = Path(__file__).with_name("rollout_program.py")


class FakeEngine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[engine_pb2.LogRequest] = []

    def Log(self, request, context):
        self.logs.append(request)
        return empty_pb2.Empty()


@pytest.fixture
def engine_service():
    service = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"127.0.0.1:{port}"
    server.stop(0)


def farm_of_three(emu) -> str:
    """An approved farm whose three nodes run 9.4.16: what the window reads before any change."""
    mirror = emu.add_mirror("fra", nodes=3, mirror_type="FARM")
    emu.state.tick()
    emu.state.accept(mirror.request_id)
    return mirror.url


def window_registration(emu, version: str, mirror_url: str) -> dict:
    farm = {
        "mirrorUrl": mirror_url,
        "version": version,
        "caBundle": emu.ca_pem,
        "region": "eu-central-1",
        "targetGroups": [],
        "warnTo": SITE,
        "nodes": [{"instanceId": f"i-{i}", "address": f"10.0.0.{i}"} for i in range(3)],
    }
    run = run_program(config={"hosttest:rollout": json.dumps(farm)}, program=PROGRAM)
    (window,) = [r for r in run.resources if r.name == "fra-upgrade"]
    return {"urn": window.urn, "news": _reveal(window.wire_inputs)}


def _received(service: FakeEngine, predicate, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [log for log in service.logs if predicate(log)]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_a_minor_upgrade_is_a_warning_under_the_site_through_the_engines_log(emu, start_host, engine_service):
    service, address = engine_service
    url = farm_of_three(emu)
    engine = start_host(args=(address,))
    engine.configure(stack_config(emu, PASSWORD, url))
    window = window_registration(emu, "9.4.16", url)
    old, _ = engine.check(window["urn"], window["news"])
    inputs, failures = engine.check(window["urn"], window_registration(emu, "9.5.0", url)["news"], olds=old)
    assert failures == [] and inputs["installed"] == ["9.4.16"]  # read from the farm's nodes
    (log,) = _received(service, lambda r: "9.4.16 -> 9.5.0" in r.message)
    assert log.severity == engine_pb2.WARNING and log.urn == SITE
    assert log.message == "bitbucket-mirrors: " + inputs["impact"]
    assert "every node stops" in log.message and "mirrors[1].bitbucketVersion" in log.message
    assert "warning:" not in engine.host.stderr  # the engine has it; the console does not repeat it


def test_a_rolling_bug_fix_upgrade_is_no_warning(emu, start_host, engine_service):
    service, address = engine_service
    url = farm_of_three(emu)
    engine = start_host(args=(address,))
    engine.configure(stack_config(emu, PASSWORD, url))
    window = window_registration(emu, "9.4.16", url)
    old, _ = engine.check(window["urn"], window["news"])
    inputs, _ = engine.check(window["urn"], window_registration(emu, "9.4.17", url)["news"], olds=old)
    assert "keeps serving" in inputs["impact"]
    time.sleep(0.5)
    assert [log for log in service.logs if log.severity == engine_pb2.WARNING] == []


def test_a_host_started_without_an_engine_says_it_on_the_console(emu, start_host):
    url = farm_of_three(emu)
    engine = start_host()
    engine.configure(stack_config(emu, PASSWORD, url))
    window = window_registration(emu, "9.4.16", url)
    old, _ = engine.check(window["urn"], window["news"])
    inputs, _ = engine.check(window["urn"], window_registration(emu, "9.5.0", url)["news"], olds=old)
    deadline = time.monotonic() + 5
    line = f"bitbucket-mirrors: warning: {inputs['impact']}"
    while line not in engine.host.stderr and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in engine.host.stderr
