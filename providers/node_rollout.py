"""Taking one node out of its load balancer before it changes, and back after: the steps that keep a
farm serving while its nodes change one at a time (components/rollout.py orders them).

- `NodeDrain` / `NodeReturn` around everything a node needs in this `up`: the drain runs when the
  install is about to run again (a new install digest), the node's instance was replaced, its OS
  image or its instance (type, user data: providers/instance_change.py) changes, and before a
  removed node goes; the return ends when the node is registered, healthy in every target group
  and, in a farm, listed by the farm on the configured version.
- `InstanceStopDrain` / `InstanceStartReturn` (URNs in every stack) no longer drain: they warn at
  preview that a single node's instance stops, and record where the node answers.

A node whose site has no load balancer (nginx) has no targets: its steps only say what a change
costs, at preview. Warnings go to the site (`warn_to`), progress to the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, Resource, UpdateResult

from . import mirror_api
from .base import StepProvider, inputs_of, is_unknown
from .instance_change import current_address
from .leaving import drain_leaving
from .messages import say, warn
from .node_idle import NodeConnections, load_balancer_addresses
from .orphans import remove_orphans
from .targets import Targets


@dataclass
class NodeTargetsArgs:
    """What a node's drain and return need: where the node sits in its load balancer, and what makes
    it leave (its install digest, its instance, its OS image). A change of `install_digest`,
    `instance_id` or `os_image` drains the node (NodeDrain) and brings it back (NodeReturn, also on
    `version`); the other fields only shape how it is done or what is said."""

    region: pulumi.Input[str]
    instance_id: pulumi.Input[str]
    target_groups: pulumi.Input[list[dict]]  # [{"arn": ..., "port": ...}]; none without a load balancer
    # The node's install digest: a new one means the install runs again, so the node leaves first.
    install_digest: pulumi.Input[str]
    node: str
    timeout_s: int = 600
    # NodeReturn: where the farm lists the node, and the version it must run there.
    mirror_url: Optional[pulumi.Input[str]] = None
    address: Optional[pulumi.Input[str]] = None
    version: Optional[pulumi.Input[str]] = None
    farm: bool = False  # the node is clustered: the farm lists it
    ca_bundle: Optional[pulumi.Input[str]] = None
    nodes: int = 1  # how many nodes the site has (what clients notice)
    warn_to: Optional[str] = None  # the site's URN, which preview warnings name
    # mirrors[].osImage: a new one replaces the node's root volume, so the node leaves first.
    # mirrors[].osImage ("" when unset: recorded, so that setting it later is a change; a state from
    # before it was tracked has no key at all and records it without a drain).
    os_image: Optional[str] = None
    # mirrors[].instanceType and the user data's digest: a change stops and starts the instance
    # (InstanceModification), so the node leaves first; the install does not run again for it.
    instance_type: Optional[str] = None
    user_data_digest: Optional[pulumi.Input[str]] = None
    # The load balancer's ARN suffix (net/<name>/<id>): its health checks are not clients, so the
    # drain leaves out its addresses when it asks the node for connections (providers/node_idle.py).
    load_balancer: Optional[pulumi.Input[str]] = None
    # The node's tags: its drain ends the node's instances that no state holds (providers/orphans.py).
    instance_tags: Optional[dict[str, str]] = None


class _NodeStep(StepProvider):
    poll_s: float = 5.0
    progress_s: float = 30.0
    farm_timeout_s: float = 600.0

    def targets(self, props: dict[str, Any], instance_id: Optional[str] = None) -> Targets:
        return Targets(
            region=props["region"],
            instance_id=instance_id or props["instance_id"],
            groups=props.get("target_groups") or [],
            node=props["node"],
            timeout_s=float(props.get("timeout_s") or 600),
            poll_s=self.poll_s,
            progress_s=self.progress_s,
        )

    def connections(self, props: dict[str, Any], instance_id: str) -> Optional[NodeConnections]:
        """How the drain asks the node whether a client is still on it; None when it cannot (no load
        balancer whose health checks it could tell apart): the drain then waits for `unused`."""
        suffix = props.get("load_balancer")
        if not suffix or is_unknown(suffix):
            return None
        try:
            not_clients = load_balancer_addresses(props["region"], suffix)
        except Exception as exc:  # noqa: BLE001 - the node is then drained by the deregistration delay
            say(f"{props['node']}: could not read the load balancer's addresses ({type(exc).__name__})")
            return None
        return NodeConnections(props["region"], instance_id, not_clients)

    def drain(self, props: dict[str, Any], instance_id: Optional[str] = None) -> None:
        instance_id = instance_id or props["instance_id"]
        self.targets(props, instance_id).drain(self.connections(props, instance_id))

    def restore(self, props: dict[str, Any], version: Optional[str]) -> None:
        """Back in the load balancer, healthy, and in its farm. While other nodes serve, the farm
        (reached through them) must list the node before it takes clients; when none does (a single
        node, or the first one back after every node stopped), it is registered first and then the
        farm, now reached through it, must list it."""
        targets = self.targets(props)
        if not targets.groups:  # nginx: the base URL reaches the node itself
            if props.get("mirror_url"):
                with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
                    mirror_api.wait_running(mirror, props["node"], targets.timeout_s, self.poll_s, self.progress_s)
            return
        clustered = bool(props.get("farm") and props.get("mirror_url"))
        if clustered and targets.others_serving():
            self._listed(props, version)
            targets.register()
            targets.wait_healthy()
            return
        targets.register()
        targets.wait_healthy()
        if clustered:
            self._listed(props, version)

    def _listed(self, props: dict[str, Any], version: Optional[str]) -> None:
        with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
            mirror_api.wait_listed(
                mirror, props["node"], props["address"], version, self.farm_timeout_s, self.poll_s, self.progress_s
            )


def alone(props: dict[str, Any]) -> bool:
    """The site's only node: no other node takes its clients, so it is not drained. Its restart is
    the outage (said at preview), and it stays registered so that the load balancer, which fails
    open to it, reaches it the moment it answers again."""
    return int(props.get("nodes") or 1) <= 1


class NodeDrainProvider(_NodeStep):
    """A node's way out of its load balancer before its install runs again.

    check: warns under the site when a single node's installation changes (clients notice); reads
    olds only for that warning, so the inputs are the same with or without them. create: no drain (a
    new node serves nothing yet). create, and update on a new `instance_id`: first terminates the
    node's instances a killed `up` launched and no state holds (providers/orphans.py). diff: an update
    when `install_digest`, `instance_id`, `os_image`, `instance_type` or `user_data_digest` changes,
    never a replacement. update: drains the node that serves now (until idle, at most the
    deregistration delay) unless it is alone, and counts the drain when the install must run again
    (not for an instance change alone). read: the recorded state. delete: a node leaving the site is
    drained where a load balancer still routes to it, otherwise done at once; safe to repeat (a
    target already gone counts as drained)."""

    decided_by = ("install_digest", "instance_id", "os_image", "instance_type", "user_data_digest")
    reinstalls = ("install_digest", "instance_id", "os_image")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if self.url_failures(news):
            return CheckResult(news, self.url_failures(news))
        if (
            olds
            and not is_unknown(news.get("install_digest"))
            and int(news.get("nodes") or 1) == 1
            and self.changed(olds, news, "install_digest")
            and not self.changed(olds, news, "version")
        ):
            warn(
                f"{news['node']}: its installation changes, so Bitbucket restarts on it; with one node the mirror "
                "is unavailable until it runs again (a few minutes)",
                news.get("warn_to"),
            )
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        # A new node serves nothing yet; an instance a killed `up` launched for it goes.
        self._end_orphans(props, props["instance_id"])
        return CreateResult(f"drain-{props['instance_id']}", {**props, "drains": 0})

    def _end_orphans(self, props: dict[str, Any], *keep: str) -> None:
        if props.get("instance_tags"):  # the rollout always gives them; without them, nothing to look by
            remove_orphans(
                props["region"],
                props["instance_tags"],
                keep,
                props["node"],
                float(props.get("timeout_s") or 600),
                self.poll_s,
                self.progress_s,
            )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        drains = int(olds.get("drains") or 0)
        if self.changed(olds, news, *self.decided_by):
            serving = olds.get("instance_id") or news["instance_id"]  # the old instance when replaced
            if self.changed(olds, news, "instance_id"):
                self._end_orphans(news, news["instance_id"], serving)
            if not alone(news) and self._others_serve(news, serving):
                self.drain(news, serving)
        if self.changed(olds, news, *self.reinstalls):
            # Counted: the install runs again after every such drain, also when its own state says
            # it need not (a rollout that failed on this node changed it without recording it).
            drains += 1
        return UpdateResult({**news, "drains": drains})

    def _others_serve(self, props: dict[str, Any], instance_id: str) -> bool:
        """Whether another node takes this one's clients: a site growing from one node has nobody
        else serving yet, and draining its only node would leave no one (the outage preview said)."""
        targets = self.targets(props, instance_id)
        if not targets.groups or targets.others_serving():
            return True
        say(f"{props['node']}: no other node serves yet, so it is not drained (it serves until it restarts)")
        return False

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # A node leaving the site: no client is cut off mid-clone, where a load balancer still routes.
        drain_leaving(self.targets(props), self.connections(props, props["instance_id"]))


class NodeDrain(Resource, module="bitbucket", name="NodeDrain"):
    """The drain step of one node (NodeDrainProvider's contract)."""

    drains: pulumi.Output[int]

    def __init__(self, name: str, args: NodeTargetsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(NodeDrainProvider(), name, {**inputs_of(args), "drains": None}, opts)


class NodeReturnProvider(_NodeStep):
    """A node's way back into its load balancer after its install.

    diff: an update when `install_digest`, `instance_id`, `version`, `instance_type` or
    `user_data_digest` changes (a key a state from an earlier release lacks is no change), or when
    the world says the node is out of its load balancer (a failed rollout left it out); never a
    replacement.
    create/update: registers the node and waits until it is healthy and, on a farm, listed by the farm
    on the version it must run; safe to repeat (a node already registered is not registered again).
    delete: nothing (the node's drain on delete took it out)."""

    decided_by = ("install_digest", "instance_id", "version")

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        result = super().diff(id_, olds, news)
        # A stop and start in the node's drain (InstanceModification): back once Bitbucket runs
        # again. A state from before these were tracked has neither: no return for that.
        result.changes = result.changes or self.changed(olds, news, "instance_type", "user_data_digest")
        if result.changes or is_unknown(news.get("instance_id")) or not news.get("target_groups"):
            return result
        # The world decides too: a node a failed rollout left out of the load balancer comes back
        # on the next `up`, even when nothing in the config changed.
        try:
            out = not self.targets(news).serving()
        except Exception as exc:  # noqa: BLE001 - preview without AWS access: the inputs decide
            say(
                f"{news.get('node')}: could not read its load balancer state ({type(exc).__name__}); "
                "deciding from the config alone"
            )
            out = False
        result.changes = out
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.restore(props, props.get("version"))
        return CreateResult(f"return-{props['instance_id']}", dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.restore(news, news.get("version"))
        return UpdateResult(dict(news))


class NodeReturn(Resource, module="bitbucket", name="NodeReturn"):
    """The return step of one node (NodeReturnProvider's contract)."""

    def __init__(self, name: str, args: NodeTargetsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(NodeReturnProvider(), name, inputs_of(args), opts)


# --- changes that make EC2 stop and start an instance ---------------------------------------------
@dataclass
class InstanceChangeArgs:
    """A node around a change that stops its instance: `instance_type` and `user_data_digest` are
    what, when they change, make EC2 stop and start it (terraform-provider-aws resourceInstanceUpdate)."""

    region: pulumi.Input[str]
    target_groups: pulumi.Input[list[dict]]
    node: str
    instance_type: str
    timeout_s: int = 600
    # InstanceStopDrain: the node's tags, by which it finds the instance (it runs before the
    # instance changes, so it cannot take the instance's id as an input).
    instance_tags: Optional[dict[str, str]] = None
    # InstanceStartReturn: the instance, and the address its resource was given (what the step's
    # `address` stands for until it runs: under the program's mocks).
    instance_id: Optional[pulumi.Input[str]] = None
    mirror_url: Optional[pulumi.Input[str]] = None
    address: Optional[pulumi.Input[str]] = None
    farm: bool = False
    ca_bundle: Optional[pulumi.Input[str]] = None
    user_data_digest: Optional[pulumi.Input[str]] = None
    nodes: int = 1
    warn_to: Optional[str] = None
    load_balancer: Optional[pulumi.Input[str]] = None  # as NodeTargetsArgs.load_balancer
    # InstanceStopDrain: the instances the previous node's step took out (its `left`).
    after: Optional[pulumi.Input[list]] = None


STOPS_INSTANCE = ("instance_type", "user_data_digest")


class InstanceStopDrainProvider(_NodeStep):
    """Only its preview warning now (the change is made in the node's drain: InstanceModification);
    decided_by is empty: never an update, so a stack from an earlier release keeps it as it is."""

    decided_by: tuple[str, ...] = ()

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if self.url_failures(news):
            return CheckResult(news, self.url_failures(news))
        if (
            olds
            and int(news.get("nodes") or 1) == 1
            and not is_unknown(news.get("user_data_digest"))
            and self.changed(olds, news, *STOPS_INSTANCE)
        ):
            what = "instanceType" if self.changed(olds, news, "instance_type") else "the boot configuration (user data)"
            warn(
                f"{news['node']}: {what} changes, so EC2 stops and starts its instance; with one node the mirror "
                "is unavailable until it runs again (a few minutes)",
                news.get("warn_to"),
            )
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        # A new node serves nothing yet, and its instance launches beside the others'.
        return CreateResult(f"stop-drain-{props['node']}", {**props, "left": []})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "left": []})  # never called: decided_by is empty


class InstanceStopDrain(Resource, module="bitbucket", name="InstanceStopDrain"):
    """Before EC2 stops a node's instance (a new type, new user data): the node leaves, drained,
    once the previous node's instance serves again. create: nothing; update on a change of what stops
    the instance; delete: nothing."""

    # The instances this step took out of the load balancer in its last update: the next node's
    # step waits for them to serve again before its own node leaves.
    left: pulumi.Output[list]

    def __init__(self, name: str, args: InstanceChangeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(InstanceStopDrainProvider(), name, {**inputs_of(args), "left": None}, opts)


class InstanceStartReturnProvider(_NodeStep):
    """Once the node's instance step is done: `address`, where the node answers now, which the
    commands that run before the node's drain (its preflight, retire, stop-for-upgrade) connect to.
    The aws.ec2.Instance keeps the public address it recorded, but a stop and start in an earlier
    `up` (InstanceModification) gave the instance a new one.

    diff: an update when `instance_id` changes, or when EC2 reports another address than the one
    recorded (a state from an earlier release has none: recorded once); at preview without AWS
    access the inputs decide. create/update: reads the address from EC2 (DescribeInstances);
    nothing else. delete: nothing. It no longer brings a node back: NodeReturn does."""

    decided_by = ("instance_id",)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        result = super().diff(id_, olds, news)
        if result.changes or is_unknown(news.get("instance_id")):
            return result
        try:
            result.changes = current_address(news) != olds.get("address")
        except Exception as exc:  # noqa: BLE001 - preview without AWS access: the inputs decide
            say(f"{news.get('node')}: could not read its address from EC2 ({type(exc).__name__})")
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"start-return-{props['instance_id']}", {**props, "address": current_address(props)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "address": current_address(news)})


class InstanceStartReturn(Resource, module="bitbucket", name="InstanceStartReturn"):
    """`address`: where the node answers now (InstanceStartReturnProvider)."""

    address: pulumi.Output[str]

    def __init__(self, name: str, args: InstanceChangeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(InstanceStartReturnProvider(), name, inputs_of(args), opts)


__all__ = [
    "NodeTargetsArgs",
    "NodeDrain",
    "NodeReturn",
    "InstanceChangeArgs",
    "InstanceStopDrain",
    "InstanceStartReturn",
]
