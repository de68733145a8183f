"""A node moved onto a newer OS image without replacing its instance: EC2's root volume replacement.

`CreateReplaceRootVolumeTask` with an `ImageId` gives the instance a new root volume from that image
and reboots it; the instance keeps its id, its private and public addresses, its network interfaces,
its IAM instance profile and its data volumes (the home) (EC2 User Guide, "Replace a root volume").
The Bitbucket installation lives on the root volume, so the node's install runs again after it
(the drain before it counts one more drain: components/rollout.py).

The step runs when `mirrors[].osImage` changes (a token such as `refresh: 2026-12`, or a pinned AMI
id), not when the image lookup finds a newer image: a node moves only when the admin asks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, Resource, UpdateResult

from facts.tags import NAME

from . import clock
from .base import StepProvider, inputs_of, is_unknown
from .errors import RolloutError
from .messages import say, warn
from .targets import ec2


@dataclass
class RootVolumeReplacementArgs:
    """One node's move to another OS image, and what the move is told by."""

    # The node's region (its EC2 client); it decides nothing.
    region: pulumi.Input[str]
    # The node's instance: the one whose root volume is replaced. A new instance (the resource's id
    # changes with it) boots from the current image and needs no move.
    instance_id: pulumi.Input[str]
    # The image to move to (the current lookup, or the pinned AMI): its change alone moves nothing.
    image_id: pulumi.Input[str]
    # mirrors[].osImage ("" unset): its change is what moves the node (an update that replaces the
    # root volume from image_id).
    os_image: Optional[str]
    # The node's name, in messages and the replacement task's Name tag; it decides nothing.
    node: str
    # The site's node count: with one node the preview warns that the mirror is unavailable during
    # the move; with more it only says so. It decides nothing else.
    nodes: int = 1
    # How long the replacement may take before the update fails (the node keeps serving nowhere
    # until `pulumi up` runs again); it decides nothing.
    timeout_s: int = 1800
    # The URN of the site the preview's warning is attributed to; it decides nothing.
    warn_to: Optional[str] = None


def replace_token(props: dict[str, Any]) -> str:
    """The same token on a retry (a killed `up`, a lost answer): EC2 returns the task it started
    (EC2 API reference, "Ensuring idempotency"; at most 64 ASCII characters)."""
    return hashlib.sha256(f"{props['instance_id']}|{props['os_image']}|{props['image_id']}".encode()).hexdigest()[:64]


class RootVolumeReplacementProvider(StepProvider):
    """A node's root volume replaced from a newer image when osImage changes (module docstring).

    - check: when osImage changed, says at preview what the node moves from and to (a warning with
      one node: the mirror is unavailable meanwhile); calls EC2 only to name the running image.
    - diff / read: StepProvider's: only os_image makes an update; nothing forces a replacement; read
      keeps the state.
    - create: nothing to do (a new instance boots from the current image); records its image.
    - update: when os_image changed, CreateReplaceRootVolumeTask (idempotent: a retry with the same
      token gets the same task) and a wait, progress every 30 s, until it succeeds; a failed task or
      the timeout is a RolloutError. Otherwise nothing is called.
    - delete: the SDK's default: nothing to undo (the new root volume stays); safe to repeat.
    """

    decided_by = ("os_image",)
    poll_s: float = 15.0
    progress_s: float = 30.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if olds and self.changed(olds, news, "os_image") and not is_unknown(news.get("image_id")):
            # What it runs now, from EC2 (check gets the old inputs, not what the last update recorded).
            text = (
                f"{news['node']}: osImage changed: it moves from {self.running_image(news) or 'its image'} to "
                f"{news['image_id']} (its root volume replaced from the image); the instance, its addresses and "
                "its home stay, Bitbucket is installed again"
            )
            if int(news.get("nodes") or 1) <= 1:
                warn(text + "; with one node the mirror is unavailable until it runs again", news.get("warn_to"))
            else:
                say(text)
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Nothing to do: a new instance boots from the current image. What it runs is recorded for
        # the next preview's "moves from".
        return CreateResult(f"root-{props['instance_id']}", {**props, "running_image": self.running_image(props)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        running = olds.get("running_image")
        if self.changed(olds, news, "os_image"):
            self.replace_root(news)
            running = news["image_id"]
        return UpdateResult({**news, "running_image": running or self.running_image(news)})

    @staticmethod
    def running_image(props: dict[str, Any]) -> Optional[str]:
        """The image the instance was launched from (EC2 DescribeInstances ImageId)."""
        try:
            found = ec2(props["region"]).describe_instances(InstanceIds=[props["instance_id"]])
            return found["Reservations"][0]["Instances"][0].get("ImageId")
        except Exception:  # noqa: BLE001 - only for a message: the lookup's image stands in
            return props.get("image_id")

    def replace_root(self, props: dict[str, Any]) -> None:
        client = ec2(props["region"])
        task = client.create_replace_root_volume_task(
            InstanceId=props["instance_id"],
            ImageId=props["image_id"],
            DeleteReplacedRootVolume=True,
            ClientToken=replace_token(props),
            TagSpecifications=[
                {"ResourceType": "replace-root-volume-task", "Tags": [{"Key": NAME, "Value": props["node"]}]}
            ],
        )
        task_id = task["ReplaceRootVolumeTask"]["ReplaceRootVolumeTaskId"]
        say(f"{props['node']}: replacing its root volume from {props['image_id']} ({task_id})")
        deadline = clock.Deadline(float(props.get("timeout_s") or 1800))

        def attempt() -> Optional[clock.NotYet[str]]:
            found = client.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])
            state = found["ReplaceRootVolumeTasks"][0]["TaskState"]
            if state == "succeeded":
                say(f"{props['node']}: its root volume is replaced; the install runs again")
                return None
            if state in ("failed", "failed-detached", "failing"):
                raise RolloutError(
                    f"{props['node']}: EC2 could not replace its root volume from {props['image_id']} "
                    f"(task {task_id}: {state}); the node keeps its old root volume and is out of the "
                    "load balancer: run `pulumi up` again, or set osImage back"
                )
            return clock.NotYet(state)

        def timed_out(state: str) -> RolloutError:
            return RolloutError(
                f"{props['node']}: its root volume replacement ({task_id}) did not finish within "
                f"{deadline.seconds:.0f}s (it is {state})"
            )

        def progress(state: str) -> None:
            say(f"waiting for {props['node']}'s root volume replacement ({deadline.elapsed:.0f}s; {state})")

        clock.poll_until(
            deadline, attempt, every=self.poll_s, timed_out=timed_out, progress=progress, progress_every=self.progress_s
        )


class RootVolumeReplacement(Resource, module="bitbucket", name="RootVolumeReplacement"):
    """A node's move onto its site's OS image: `running_image` is the image it runs now."""

    running_image: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: RootVolumeReplacementArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(RootVolumeReplacementProvider(), name, {**inputs_of(args), "running_image": None}, opts)
