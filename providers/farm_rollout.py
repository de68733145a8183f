"""Farm rollouts: upgrades and instance changes one node at a time, never more than one node out of
service, and a removed node drained before it goes.

The engine orders a site's steps by their dependencies; these resources are the steps that are not
AWS resources or installs:

    UpgradeWindow -> NodeDrain(0) -> install(0) -> NodeReturn(0) -> NodeDrain(1) -> ... -> UpgradeFinish

- `UpgradeWindow` knows the installed version (its state) and the configured one: it refuses a
  downgrade at preview, and for a bug-fix upgrade of a farm turns the farm's upgrade mode on
  (`POST /rest/mirroring/latest/zdu/start` on the mirror), once.
- `NodeDrain` takes a node out of its load balancer and waits until the balancer reports its targets
  drained, whenever the node's install is about to run again, and before a removed node is deleted.
- `NodeReturn` puts it back and waits until the balancer reports it healthy and the farm lists it on
  the configured version (`GET .../farmNodes`).
- `UpgradeFinish` turns upgrade mode off (`POST .../zdu/end`) once every node runs the new version.
- `InstanceStopDrain` / `InstanceStartReturn` do the same around a change that makes EC2 stop and
  start an instance (its type): the node leaves before, and is back before the next node's turn.
If a node fails, the engine stops there: the nodes before it were returned, the others never left,
and the next `up` resumes at the failed node (the steps before it have nothing left to do).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .base import BitbucketProvider, Deadline, input_names, inputs_of, is_unknown, say

ZDU = "/rest/mirroring/latest/zdu"
FARM_NODES = "/rest/mirroring/latest/farmNodes"


class RolloutError(Exception):
    pass


def parse_version(version: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", str(version))
    if not match:
        raise ValueError(f"'{version}' is not MAJOR.MINOR.PATCH")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def upgrade_kind(installed: Optional[str], configured: str) -> str:
    """install (nothing yet), none, bugfix (rolling on a farm), feature (minor or major: all nodes
    stop), or downgrade (refused)."""
    if not installed:
        return "install"
    old, new = parse_version(installed), parse_version(configured)
    if new == old:
        return "none"
    if new < old:
        return "downgrade"
    return "bugfix" if new[:2] == old[:2] else "feature"


# --- upgrade window ------------------------------------------------------------------------------
@dataclass
class UpgradeWindowArgs:
    mirror_url: pulumi.Input[str]
    version: pulumi.Input[str]
    version_key: str                      # the config key the user writes, for messages
    farm: bool
    ca_bundle: Optional[pulumi.Input[str]] = None


def upgrade_impact(installed: Optional[str], configured: str, farm: bool, key: str) -> Optional[str]:
    """What clients will notice of this version change, said at preview (None: nothing changes)."""
    kind = upgrade_kind(installed, configured)
    if kind == "bugfix" and farm:
        return (f"{key}: {installed} -> {configured} is a bug-fix upgrade: the farm upgrades one node at a time "
                "in upgrade mode and keeps serving")
    if kind in ("bugfix", "feature"):
        how = "every node stops" if farm else "the node upgrades in place"
        return (f"{key}: {installed} -> {configured}: {how}; the mirror is unavailable until Bitbucket runs "
                f"{configured}" + ("" if kind == "bugfix" else " (only bug-fix upgrades can roll)"))
    return None


class UpgradeWindowProvider(BitbucketProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        installed, configured, key = olds.get("version"), news.get("version"), news.get("version_key")
        if not installed or is_unknown(configured):
            return CheckResult({**news, "impact": None}, [])
        if upgrade_kind(installed, configured) == "downgrade":
            return CheckResult(news, [CheckFailure("version", (
                f"{key}: {configured} is older than the installed {installed}; Bitbucket "
                f"cannot be downgraded in place. Set it back to {installed} (or newer); going back means "
                "restoring the home volumes from a backup taken before the upgrade"))])
        # Check runs at preview: the impact shows in its diff, and on the console where the CLI shows
        # provider output.
        impact = upgrade_impact(installed, configured, bool(news.get("farm")), str(key))
        if impact:
            say(f"warning: {impact}")
        return CheckResult({**news, "impact": impact}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in input_names(UpgradeWindowArgs))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"upgrade-window-{props['version']}", self._outputs(props, "install", None))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        installed = olds.get("version")
        kind = upgrade_kind(installed, news["version"])
        if kind == "bugfix" and news.get("farm"):
            with self.client(news["mirror_url"], news.get("ca_bundle")) as mirror:
                state = mirror.post(f"{ZDU}/start")
            say(f"{news['mirror_url']}: upgrade mode on (farm at {state.get('version')}): nodes move to "
                f"{news['version']} one at a time")
        elif kind == "feature":
            say(f"{news['mirror_url']}: {installed} -> {news['version']} is not a bug-fix upgrade: every node "
                "stops, the mirror is unavailable until the nodes start on the new version")
        return UpdateResult(self._outputs(news, kind, installed))

    @staticmethod
    def _outputs(props: dict[str, Any], kind: str, previous: Optional[str]) -> dict[str, Any]:
        return {**{k: props.get(k) for k in input_names(UpgradeWindowArgs)}, "kind": kind,
                "previous_version": previous}


class UpgradeWindow(Resource, module="bitbucket", name="UpgradeWindow"):
    kind: pulumi.Output[str]

    def __init__(self, name: str, args: UpgradeWindowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(UpgradeWindowProvider(), name,
                         {**inputs_of(args), "kind": None, "previous_version": None}, opts)


@dataclass
class UpgradeFinishArgs:
    mirror_url: pulumi.Input[str]
    version: pulumi.Input[str]
    kind: pulumi.Input[str]               # UpgradeWindow.kind
    farm: bool
    ca_bundle: Optional[pulumi.Input[str]] = None


class UpgradeFinishProvider(BitbucketProvider):
    attempts: int = 30
    pause_s: float = 10.0

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in input_names(UpgradeFinishArgs))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"upgrade-finish-{props['version']}", dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if news.get("kind") == "bugfix" and news.get("farm"):
            self.end_upgrade_mode(news["mirror_url"], news.get("ca_bundle"), news["version"])
        return UpdateResult(dict(news))

    def end_upgrade_mode(self, mirror_url: str, ca_bundle: Optional[str], version: str) -> None:
        from .errors import BitbucketError
        with self.client(mirror_url, ca_bundle) as mirror:
            for attempt in range(self.attempts):
                try:
                    mirror.post(f"{ZDU}/end")
                    say(f"{mirror_url}: every node runs {version}; upgrade mode off")
                    return
                except BitbucketError as exc:   # refused while versions differ: they may still settle
                    if attempt == self.attempts - 1:
                        raise RolloutError(f"{mirror_url}: upgrade mode could not be turned off ({exc}); the farm "
                                           "serves in mixed mode: check each node's version in Administration > "
                                           "Mirrors, then run `pulumi up` again") from None
                    time.sleep(self.pause_s)


class UpgradeFinish(Resource, module="bitbucket", name="UpgradeFinish"):
    def __init__(self, name: str, args: UpgradeFinishArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(UpgradeFinishProvider(), name, inputs_of(args), opts)


# --- draining and returning a node ---------------------------------------------------------------
@dataclass
class NodeTargetsArgs:
    region: pulumi.Input[str]
    instance_id: pulumi.Input[str]
    target_groups: pulumi.Input[list[dict]]      # [{"arn": ..., "port": ...}]
    # The node's install digest: a new one means the install runs again, so the node leaves first.
    install_digest: pulumi.Input[str]
    node: str
    timeout_s: int = 600
    # NodeReturn only: where the farm lists the node, and the version it must run.
    mirror_url: Optional[pulumi.Input[str]] = None
    address: Optional[pulumi.Input[str]] = None
    version: Optional[pulumi.Input[str]] = None
    farm: bool = False
    ca_bundle: Optional[pulumi.Input[str]] = None


class _TargetsProvider(BitbucketProvider):
    poll_s: float = 5.0
    args_class: type = NodeTargetsArgs     # the inputs whose change is an update

    def elbv2(self, region: str):
        import boto3  # the AWS SDK; credentials and endpoint come from the usual AWS variables
        return boto3.client("elbv2", region_name=region)

    def targets(self, props: dict[str, Any]) -> list[tuple[str, list[dict]]]:
        return [(g["arn"], [{"Id": props["instance_id"], "Port": int(g["port"])}]) for g in props["target_groups"]]

    def waiter_config(self, props: dict[str, Any]) -> dict:
        delay = max(1, int(self.poll_s))
        return {"Delay": delay, "MaxAttempts": max(1, int(props.get("timeout_s") or 600) // delay)}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in input_names(self.args_class))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def drain(self, props: dict[str, Any]) -> None:
        from botocore.exceptions import WaiterError
        client = self.elbv2(props["region"])
        for arn, targets in self.targets(props):
            client.deregister_targets(TargetGroupArn=arn, Targets=targets)
        for arn, targets in self.targets(props):
            try:
                client.get_waiter("target_deregistered").wait(TargetGroupArn=arn, Targets=targets,
                                                              WaiterConfig=self.waiter_config(props))
            except WaiterError:
                raise RolloutError(f"{props['node']} did not drain from {arn} within {props.get('timeout_s')}s; "
                                   "long git operations may still run on it") from None
        say(f"{props['node']} is out of the load balancer (connections drained)")


class NodeDrainProvider(_TargetsProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"drain-{props['instance_id']}", dict(props))   # a new node serves nothing yet

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("install_digest") != news.get("install_digest") or olds.get("instance_id") != news.get("instance_id"):
            self.drain({**news, "instance_id": olds.get("instance_id") or news["instance_id"]})
        return UpdateResult(dict(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.drain(props)   # a node leaving the farm: no client is cut off mid-clone


class NodeDrain(Resource, module="bitbucket", name="NodeDrain"):
    def __init__(self, name: str, args: NodeTargetsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(NodeDrainProvider(), name, inputs_of(args), opts)


class NodeReturnProvider(_TargetsProvider):
    farm_timeout_s: float = 600.0

    def create(self, props: dict[str, Any]) -> CreateResult:
        # A new node joins through its target group attachment once healthy; before its mirror is
        # approved the farm cannot list it, so there is nothing to wait for here.
        return CreateResult(f"return-{props['instance_id']}", dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.restore(news)
        return UpdateResult(dict(news))

    def restore(self, props: dict[str, Any]) -> None:
        from botocore.exceptions import WaiterError
        if props.get("farm") and props.get("mirror_url"):
            self.wait_listed(props)
        client = self.elbv2(props["region"])
        for arn, targets in self.targets(props):
            client.register_targets(TargetGroupArn=arn, Targets=targets)
        for arn, targets in self.targets(props):
            try:
                client.get_waiter("target_in_service").wait(TargetGroupArn=arn, Targets=targets,
                                                            WaiterConfig=self.waiter_config(props))
            except WaiterError:
                raise RolloutError(f"{props['node']} did not become healthy in {arn} within {props.get('timeout_s')}s: "
                                   "check its /status and `journalctl -u atlbitbucket`; the other nodes keep serving") from None
        say(f"{props['node']} is back in the load balancer")

    def wait_listed(self, props: dict[str, Any]) -> None:
        """The farm lists this node, on the configured version (any, without one): it joined the cluster."""
        deadline = Deadline(self.farm_timeout_s)
        seen: list = []
        with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
            while True:
                seen = mirror.get(FARM_NODES) or []
                mine = [n for n in seen if (n.get("address") or {}).get("address") == props["address"]]
                if mine and props.get("version") in (None, mine[0].get("buildVersion")):
                    return
                if deadline.passed:
                    found = mine[0].get("buildVersion") if mine else "not listed"
                    raise RolloutError(f"{props['node']} ({props['address']}) did not join the farm on "
                                       f"{props['version']} within {self.farm_timeout_s:.0f}s (it is {found}); "
                                       "the farm keeps serving on the other nodes")
                time.sleep(self.poll_s)


class NodeReturn(Resource, module="bitbucket", name="NodeReturn"):
    def __init__(self, name: str, args: NodeTargetsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(NodeReturnProvider(), name, inputs_of(args), opts)


# --- instance changes that stop a node (instance type) -------------------------------------------
@dataclass
class InstanceChangeArgs:
    """A node around a change that stops its instance: `instance_type` is what, when it changes,
    makes EC2 stop and start the instance."""
    region: pulumi.Input[str]
    target_groups: pulumi.Input[list[dict]]
    node: str
    instance_type: str
    timeout_s: int = 600
    # InstanceStopDrain: the node's tags, by which it finds the instance (it runs before the
    # instance changes, so it cannot take the instance's id as an input).
    instance_tags: Optional[dict[str, str]] = None
    # InstanceStartReturn: the instance, and where the farm lists it.
    instance_id: Optional[pulumi.Input[str]] = None
    mirror_url: Optional[pulumi.Input[str]] = None
    address: Optional[pulumi.Input[str]] = None
    farm: bool = False
    ca_bundle: Optional[pulumi.Input[str]] = None


class InstanceStopDrainProvider(_TargetsProvider):
    """Before EC2 stops the instance for a new type: the node leaves its load balancer, drained."""
    args_class = InstanceChangeArgs

    def ec2(self, region: str):
        import boto3
        return boto3.client("ec2", region_name=region)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"stop-drain-{props['node']}", dict(props))   # a new node serves nothing yet

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("instance_type") != news.get("instance_type"):
            for instance_id in self.instances(news):
                self.drain({**news, "instance_id": instance_id})
        return UpdateResult(dict(news))

    def instances(self, props: dict[str, Any]) -> list[str]:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(props["instance_tags"].items())]
        filters.append({"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]})
        pages = self.ec2(props["region"]).get_paginator("describe_instances").paginate(Filters=filters)
        return sorted(i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"])


class InstanceStopDrain(Resource, module="bitbucket", name="InstanceStopDrain"):
    def __init__(self, name: str, args: InstanceChangeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(InstanceStopDrainProvider(), name, inputs_of(args), opts)


class InstanceStartReturnProvider(NodeReturnProvider):
    """Once the instance runs its new type: back in the load balancer, healthy, and in the farm."""
    args_class = InstanceChangeArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"start-return-{props['instance_id']}", dict(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("instance_type") != news.get("instance_type"):
            self.restore({**news, "version": None})   # Bitbucket restarts on the version it had
        return UpdateResult(dict(news))


class InstanceStartReturn(Resource, module="bitbucket", name="InstanceStartReturn"):
    def __init__(self, name: str, args: InstanceChangeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(InstanceStartReturnProvider(), name, inputs_of(args), opts)
