"""What a drain asks a node, answered from the world and its clients: SSM Run Command (SendCommand,
GetCommandInvocation) running `ss` on a node, and the load balancer's network interfaces
(DescribeNetworkInterfaces by description) whose addresses its health checks come from.

- A command is accepted only for an instance that runs (SSM API reference, SendCommand:
  InvalidInstanceId when the instance "is not in a valid state" or its agent is not online), and only
  the document and command the product sends: any other is an error, never a silent success.
- Its invocation is `InProgress` for RUN_S, then `Success` with what `ss -Htn state established` prints
  at that moment on 7990/7999: one line per clone the node serves (`Clients.in_flight`'s clones, from a
  client address inside the VPC, so a filter by CIDR would miss them) and, at every look, one health
  check from each of the load balancer's addresses (the worst case: a check caught in flight).
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

from .aws_api import ACCOUNT, AwsApi
from .clients import HTTPS_PORT, Clients
from .world import World
from .world_objects import LoadBalancer, WorldError

RUN_S = 2.0  # stated: the agent picks the command up and `ss` answers within about 2 s
DOCUMENT = "AWS-RunShellScript"
COMMAND = "ss -Htn state established '( sport = :7990 or sport = :7999 )'"
BITBUCKET_HTTP, BITBUCKET_SSH = 7990, 7999
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def lb_addresses(lb: LoadBalancer) -> list[str]:
    """One private address per zone (the stacks' load balancers span three subnets), from its ARN."""
    digest = hashlib.sha1(lb.arn.encode()).digest()
    return [f"10.{40 + k}.0.{2 + digest[k] % 250}" for k in range(3)]


def arn_suffix(lb: LoadBalancer) -> str:
    return lb.arn.split(":loadbalancer/", 1)[-1]


class RunCommand:
    """The SSM Run Command a node's drain sends, answered from the clones the node still serves (and
    the network interfaces a load balancer's clients come through)."""

    def __init__(self, api: AwsApi, world: World, clients: Clients) -> None:
        self.world, self.clients = world, clients
        self.commands: dict[str, dict[str, Any]] = {}
        api.handle("ssm.SendCommand", self.send_command)
        api.handle("ssm.GetCommandInvocation", self.get_command_invocation)
        api.handle("ec2.DescribeNetworkInterfaces", self.describe_network_interfaces)

    # --- SSM ------------------------------------------------------------------------------------
    def send_command(self, params: dict) -> dict:
        if params.get("DocumentName") != DOCUMENT or params.get("Parameters", {}).get("commands") != [COMMAND]:
            raise WorldError("InvalidParameters", f"the twin runs only {DOCUMENT} with `{COMMAND}`")
        (instance_id,) = params["InstanceIds"]
        instance = self.world.instances.get(instance_id)
        if instance is None or instance.state != "running":
            raise WorldError("InvalidInstanceId", f"Instances [[{instance_id}]] not in a valid state for account")
        # A UUID, as SSM's command ids are; from the world's counter, so that runs repeat.
        command_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.world.new_id("cmd")))
        self.commands[command_id] = {"instance": instance_id, "sent": self.world.now, "output": None}
        return {
            "Command": {
                "CommandId": command_id,
                "DocumentName": DOCUMENT,
                "InstanceIds": [instance_id],
                "Status": "Pending",
                "RequestedDateTime": EPOCH + datetime.timedelta(seconds=self.world.now),
            }
        }

    def get_command_invocation(self, params: dict) -> dict:
        command = self.commands.get(params["CommandId"])
        if command is None or command["instance"] != params["InstanceId"]:
            raise WorldError("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)")
        base = {"CommandId": params["CommandId"], "InstanceId": params["InstanceId"], "DocumentName": DOCUMENT}
        if self.world.now < command["sent"] + RUN_S:
            return {**base, "Status": "InProgress", "StatusDetails": "InProgress", "ResponseCode": -1}
        if command["output"] is None:  # what `ss` printed when it ran
            command["output"] = self.ss(command["instance"], command["sent"] + RUN_S)
        return {
            **base,
            "Status": "Success",
            "StatusDetails": "Success",
            "ResponseCode": 0,
            "StandardOutputContent": command["output"],
            "StandardErrorContent": "",
        }

    def ss(self, instance_id: str, t: float) -> str:
        instance = self.world.instances[instance_id]
        local = instance.private_ip
        lines = []
        for clone in self.clients.clones:
            if clone.node == instance_id and clone.at <= t < clone.end and clone.failed_at is None:
                port = BITBUCKET_HTTP if clone.protocol == "https" else BITBUCKET_SSH
                peer = f"10.{90 + clone.number // 250 % 8}.1.{1 + clone.number % 250}"
                lines.append(f"0 0 [::ffff:{local}]:{port} [::ffff:{peer}]:{40000 + clone.number % 20000}")
        for lb in self.world.load_balancers.values():
            if self._registered(lb, instance_id, t):
                for k, address in enumerate(lb_addresses(lb)):
                    lines.append(f"0 0 [::ffff:{local}]:{BITBUCKET_HTTP} [::ffff:{address}]:{30000 + k}")
        return "".join(f"{line}\n" for line in lines)

    def _registered(self, lb: LoadBalancer, instance_id: str, t: float) -> bool:
        for port, group_arn in lb.listeners.items():
            group = self.world.target_groups.get(group_arn)
            if port == HTTPS_PORT and group is not None and group.current(instance_id, t) is not None:
                return True
        return False

    # --- EC2 ------------------------------------------------------------------------------------
    def describe_network_interfaces(self, params: dict) -> dict:
        wanted = None
        for f in params.get("Filters", []):
            if f["Name"] != "description":
                raise WorldError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
            wanted = set(f["Values"])
        found = []
        for lb in sorted(self.world.load_balancers.values(), key=lambda b: b.arn):
            description = f"ELB {arn_suffix(lb)}"
            if wanted is not None and description not in wanted:
                continue
            for k, address in enumerate(lb_addresses(lb)):
                found.append(
                    {
                        "NetworkInterfaceId": f"eni-{hashlib.sha1(f'{lb.arn}/{k}'.encode()).hexdigest()[:17]}",
                        "Description": description,
                        "InterfaceType": "network_load_balancer",
                        "OwnerId": ACCOUNT,
                        "RequesterManaged": True,
                        "Status": "in-use",
                        "PrivateIpAddress": address,
                        "PrivateIpAddresses": [{"PrivateIpAddress": address, "Primary": True}],
                    }
                )
        return {"NetworkInterfaces": found}
