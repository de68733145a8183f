"""A node's instance type and boot configuration (user data) changed in place, inside the node's
install drain: the one drain of the node in this `up` (components/rollout.py).

EC2 changes either only on a stopped instance (EC2 API Reference, ModifyInstanceAttribute: "To
modify some attributes, the instance must be stopped"; terraform-provider-aws ec2_instance.go
resourceInstanceUpdate does the same: stop, ModifyInstanceAttribute, start). The aws.ec2.Instance
ignores both (components/host.py `ignore_changes`), so it never stops on its own and every node's
preflight runs before the first node leaves; this step stops, modifies and starts the instance
itself, once the node is drained.

What it does is decided from what EC2 reports, not from its own state: the instance's type
(DescribeInstances) and the sha256 of its user data (DescribeInstanceAttribute userData). So it
is idempotent, and an `up` killed between the stop and the start resumes: the instance is started
again, and modified only where it still differs.

A stop and start gives an instance with a public address a new one (EC2 User Guide, "Public IPv4
addresses": released when the instance is stopped): `address` is where the node answers after
this step, what the node's install connects to.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from facts.hosts import architecture_of

from . import clock
from .base import StepProvider, inputs_of, is_unknown
from .errors import RolloutError
from .messages import say
from .targets import ec2


@dataclass
class InstanceModificationArgs:
    """One node's instance, and what it must run: its type and its boot configuration."""

    # The node's region (its EC2 client); it decides nothing.
    region: pulumi.Input[str]
    # The node's instance; a new one (a replacement) launched as configured: nothing to change,
    # but its address is read again.
    instance_id: pulumi.Input[str]
    # mirrors[].instanceType: the type the instance must have.
    instance_type: str
    # The boot configuration the instance must have (components/boot); no secret in it (it names
    # the SSM parameter of the host key, not the key). `user_data_digest` is its sha256: what
    # decides an update, and what EC2's user data is compared with.
    user_data: pulumi.Input[str]
    user_data_digest: pulumi.Input[str]
    # The node's name, in messages; it decides nothing.
    node: str
    # How long the stop, or the start, may take before the update fails; it decides nothing.
    timeout_s: int = 900
    # The address the instance was given (its resource's output): only what `address` stands for
    # until the step runs (under the program's mocks); the step records where the node answers.
    address: Optional[pulumi.Input[str]] = None


def digest_of(user_data: str) -> str:
    return hashlib.sha256(user_data.encode()).hexdigest()


def describe(region: str, instance_id: str, node: str) -> dict[str, Any]:
    """The instance as EC2 reports it (DescribeInstances)."""
    found = ec2(region).describe_instances(InstanceIds=[instance_id])["Reservations"]
    if not found or not found[0]["Instances"]:
        raise RolloutError(f"{node}: EC2 does not know its instance {instance_id}")
    return found[0]["Instances"][0]


def current_address(props: dict[str, Any]) -> Optional[str]:
    """Where the node answers now: its public address when it has one, else its private one (a stop
    and start gives a new public address: EC2 User Guide, "Public IPv4 addresses")."""
    if is_unknown(props.get("instance_id")):
        return props.get("address")
    instance = describe(props["region"], props["instance_id"], props["node"])
    return instance.get("PublicIpAddress") or instance.get("PrivateIpAddress")


class InstanceModificationProvider(StepProvider):
    """The node's instance brought to its configured type and user data (module docstring).

    - check: refuses, at preview, a type of another CPU architecture than the one the instance
      runs (EC2 cannot modify across architectures: the image is of one architecture).
    - diff: an update when `instance_type`, `user_data_digest` or `instance_id` changes; never a
      replacement.
    - create: nothing to change (a new instance launches as configured); records its address.
    - update: from what EC2 reports: when its type or user data differ, StopInstances (waited until
      `stopped`), ModifyInstanceAttribute InstanceType and UserData (each only if it differs),
      StartInstances (waited until `running`); a stopped instance that already matches (an `up`
      killed before the start) is started. Records the address. Nothing else is called.
    - delete: nothing (the instance goes with its own resource)."""

    decided_by = ("instance_type", "user_data_digest", "instance_id")
    url_inputs = ()
    poll_s: float = 5.0
    progress_s: float = 30.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        old, new = olds.get("instance_type"), news.get("instance_type")
        if old and new and architecture_of(old) != architecture_of(new):
            return CheckResult(
                news,
                [
                    CheckFailure(
                        "instance_type",
                        f"{news['node']}: instanceType {old} -> {new} changes the CPU architecture "
                        f"({architecture_of(old)} -> {architecture_of(new)}); a node's instance type is changed in "
                        f"place, which EC2 cannot do across architectures: keep an {architecture_of(old)} type",
                    )
                ],
            )
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"instance-change-{props['instance_id']}", {**props, "address": current_address(props)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.converge(news)
        return UpdateResult({**news, "address": current_address(news)})

    def _describe(self, props: dict[str, Any]) -> dict[str, Any]:
        return describe(props["region"], props["instance_id"], props["node"])

    def running_user_data(self, props: dict[str, Any]) -> str:
        """The sha256 of the user data EC2 holds (DescribeInstanceAttribute answers it in base64)."""
        found = ec2(props["region"]).describe_instance_attribute(InstanceId=props["instance_id"], Attribute="userData")
        encoded = (found.get("UserData") or {}).get("Value") or ""
        return hashlib.sha256(base64.b64decode(encoded)).hexdigest()

    def converge(self, props: dict[str, Any]) -> None:
        node, instance_id = props["node"], props["instance_id"]
        instance = self._describe(props)
        state, running_type = instance["State"]["Name"], instance["InstanceType"]
        new_type = running_type != props["instance_type"]
        new_data = self.running_user_data(props) != props["user_data_digest"]
        if state in ("shutting-down", "terminated"):
            raise RolloutError(f"{node}: its instance {instance_id} is {state}: it cannot be changed")
        if new_type and architecture_of(running_type) != architecture_of(props["instance_type"]):
            raise RolloutError(
                f"{node}: its instance runs {running_type} ({architecture_of(running_type)}); "
                f"{props['instance_type']} is another CPU architecture, which EC2 cannot modify it to"
            )
        if not (new_type or new_data):
            if state in ("stopped", "stopping"):  # an `up` killed after the modification
                self._wait(props, "stopped")
                self._start(props)
            return
        if state == "pending":  # EC2 stops only a running instance
            self._wait(props, "running")
        client = ec2(props["region"])
        changes = ((f"{running_type} -> {props['instance_type']}", new_type), ("new user data", new_data))
        what = " and ".join(w for w, on in changes if on)
        say(f"{node}: stopping its instance {instance_id} to change it ({what})")
        if state != "stopped":
            client.stop_instances(InstanceIds=[instance_id])
            self._wait(props, "stopped")
        if new_type:
            client.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": props["instance_type"]})
        if new_data:  # botocore base64-encodes the blob itself
            client.modify_instance_attribute(InstanceId=instance_id, UserData={"Value": props["user_data"].encode()})
        self._start(props)

    def _start(self, props: dict[str, Any]) -> None:
        ec2(props["region"]).start_instances(InstanceIds=[props["instance_id"]])
        self._wait(props, "running")
        say(f"{props['node']}: its instance runs again")

    def _wait(self, props: dict[str, Any], wanted: str) -> None:
        deadline = clock.Deadline(float(props.get("timeout_s") or 900))

        def attempt() -> Optional[clock.NotYet[str]]:
            state = self._describe(props)["State"]["Name"]
            if state == wanted:
                return None
            if state in ("shutting-down", "terminated"):
                raise RolloutError(f"{props['node']}: its instance {props['instance_id']} is {state}")
            return clock.NotYet(state)

        def timed_out(state: str) -> RolloutError:
            return RolloutError(
                f"{props['node']}: its instance {props['instance_id']} is not {wanted} within "
                f"{deadline.seconds:.0f}s (it is {state}); run `pulumi up` again"
            )

        def progress(state: str) -> None:
            say(f"waiting for {props['node']}'s instance to be {wanted} ({deadline.elapsed:.0f}s; {state})")

        clock.poll_until(
            deadline, attempt, every=self.poll_s, timed_out=timed_out, progress=progress, progress_every=self.progress_s
        )


class InstanceModification(Resource, module="bitbucket", name="InstanceModification"):
    """A node's instance type and user data changed in place (InstanceModificationProvider):
    `address` is where the node answers afterwards."""

    address: pulumi.Output[str]

    def __init__(self, name: str, args: InstanceModificationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(InstanceModificationProvider(), name, inputs_of(args), opts)


__all__ = ["InstanceModification", "InstanceModificationArgs", "current_address", "describe", "digest_of"]
