"""A node moved onto a newer OS image by EC2's root volume replacement, against botocore's own
Stubber (moto has no CreateReplaceRootVolumeTask): the requests are validated against botocore's
EC2 model, the answers are what the API reference says it returns."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from providers import os_refresh
from providers.errors import RolloutError
from providers.os_refresh import RootVolumeReplacementProvider

REGION = "eu-west-1"
INSTANCE, OLD_IMAGE, NEW_IMAGE = "i-0123456789abcdef0", "ami-0aaaaaaaaaaaaaaa1", "ami-0bbbbbbbbbbbbbbb2"


@pytest.fixture
def ec2(monkeypatch):
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    monkeypatch.setattr(os_refresh, "ec2", lambda region: client)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def props(os_image: str, image: str = NEW_IMAGE, nodes: int = 3) -> dict:
    return {
        "region": REGION,
        "instance_id": INSTANCE,
        "image_id": image,
        "os_image": os_image,
        "node": "dub-node1",
        "nodes": nodes,
        "timeout_s": 1800,
        "warn_to": None,
    }


def provider() -> RootVolumeReplacementProvider:
    step = RootVolumeReplacementProvider()
    step.poll_s = 0.0
    return step


def task(state: str) -> dict:
    return {
        "ReplaceRootVolumeTaskId": "replacevol-0123456789abcdef0",
        "InstanceId": INSTANCE,
        "TaskState": state,
        "ImageId": NEW_IMAGE,
        "DeleteReplacedRootVolume": True,
    }


def launched_from(stub: Stubber, image: str) -> None:
    stub.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": [{"InstanceId": INSTANCE, "ImageId": image}]}]},
        {"InstanceIds": [INSTANCE]},
    )


def test_a_new_os_image_replaces_the_root_volume_from_it_and_waits_for_the_task(ec2):
    launched_from(ec2, OLD_IMAGE)
    created = provider().create(props("", image=OLD_IMAGE))
    assert created.outs["running_image"] == OLD_IMAGE
    ec2.add_response(
        "create_replace_root_volume_task",
        {"ReplaceRootVolumeTask": task("pending")},
        {
            "InstanceId": INSTANCE,
            "ImageId": NEW_IMAGE,
            "DeleteReplacedRootVolume": True,
            "ClientToken": ANY,
            "TagSpecifications": ANY,
        },
    )
    for state in ("in-progress", "in-progress", "succeeded"):
        ec2.add_response(
            "describe_replace_root_volume_tasks",
            {"ReplaceRootVolumeTasks": [task(state)]},
            {"ReplaceRootVolumeTaskIds": ["replacevol-0123456789abcdef0"]},
        )
    updated = provider().update(created.id, created.outs, props("refresh: 2026-12"))
    assert updated.outs["running_image"] == NEW_IMAGE


def test_a_retry_sends_the_same_client_token_so_ec2_returns_the_task_it_started(ec2):
    tokens = []
    for _ in range(2):
        ec2.add_response("create_replace_root_volume_task", {"ReplaceRootVolumeTask": task("pending")})
        ec2.add_response("describe_replace_root_volume_tasks", {"ReplaceRootVolumeTasks": [task("succeeded")]})
    client = os_refresh.ec2(REGION)
    client.meta.events.register(
        "provide-client-params.ec2.CreateReplaceRootVolumeTask",
        lambda params, **_: tokens.append(params["ClientToken"]),
    )
    olds = {**props(""), "running_image": OLD_IMAGE}
    provider().update("root", olds, props("refresh: 2026-12"))
    provider().update("root", olds, props("refresh: 2026-12"))
    assert len(tokens) == 2 and tokens[0] == tokens[1] and len(tokens[0]) <= 64
    # Another refresh is another task.
    assert os_refresh.replace_token(props("refresh: 2027-06")) != tokens[0]


def test_nothing_but_an_os_image_change_touches_the_root_volume(ec2):
    olds = {**props("refresh: 2026-12"), "running_image": NEW_IMAGE}
    # A newer image from the lookup alone (a new AMI release) moves nothing: only osImage does.
    updated = provider().update("root", olds, props("refresh: 2026-12", image="ami-0ccccccccccccccc3"))
    assert updated.outs["running_image"] == NEW_IMAGE
    assert provider().diff("root", olds, props("refresh: 2026-12", image="ami-0ccccccccccccccc3")).changes is False


def test_a_failed_replacement_says_what_happened_and_what_to_do(ec2):
    ec2.add_response("create_replace_root_volume_task", {"ReplaceRootVolumeTask": task("pending")})
    ec2.add_response("describe_replace_root_volume_tasks", {"ReplaceRootVolumeTasks": [task("failed")]})
    with pytest.raises(RolloutError) as failed:
        provider().update("root", {**props(""), "running_image": OLD_IMAGE}, props("refresh: 2026-12"))
    message = str(failed.value)
    assert "dub-node1" in message and NEW_IMAGE in message and "replacevol-0123456789abcdef0" in message
    assert "keeps its old root volume" in message and "pulumi up" in message


def test_a_replacement_that_never_ends_is_given_up_at_the_timeout(ec2, monkeypatch):
    from providers import clock

    now = [0.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    monkeypatch.setattr(clock, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    step = RootVolumeReplacementProvider()
    step.poll_s = 60.0
    ec2.add_response("create_replace_root_volume_task", {"ReplaceRootVolumeTask": task("pending")})
    for _ in range(4):
        ec2.add_response("describe_replace_root_volume_tasks", {"ReplaceRootVolumeTasks": [task("in-progress")]})
    with pytest.raises(RolloutError, match=r"did not finish within 180s \(it is in-progress\)"):
        step.update("root", {**props(""), "running_image": OLD_IMAGE}, {**props("refresh: 2026-12"), "timeout_s": 180})


def test_preview_names_the_image_each_node_moves_from_and_to_and_warns_for_a_single_node(ec2, monkeypatch):
    launched_from(ec2, OLD_IMAGE)
    launched_from(ec2, OLD_IMAGE)
    said, warned = [], []
    monkeypatch.setattr(os_refresh, "say", said.append)
    monkeypatch.setattr(os_refresh, "warn", lambda text, urn=None: warned.append(text))
    olds = props("")  # check gets the old inputs
    provider().check(olds, props("refresh: 2026-12"))
    assert len(said) == 1 and not warned
    assert f"moves from {OLD_IMAGE} to {NEW_IMAGE}" in said[0]
    provider().check({**olds, "nodes": 1}, props("refresh: 2026-12", nodes=1))
    assert len(warned) == 1 and "unavailable" in warned[0]
    # Unchanged osImage: nothing said.
    provider().check({**olds, "os_image": "refresh: 2026-12"}, props("refresh: 2026-12"))
    assert len(said) == 1 and len(warned) == 1
