"""The world's EC2 and Elastic Load Balancing APIs, answered to boto3 as AWS would answer them: the
providers call boto3 as against AWS; a botocore `before-call` handler (as botocore's Stubber does)
answers from the world. Every request and every answer is validated against botocore's service model,
so the providers cannot rely on a parameter or a field AWS does not have; an operation the world does
not model is an error, never a silent success.
"""

from __future__ import annotations

import base64
from typing import Any, Callable

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

from .world import Instance, World, WorldError

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
ACCOUNT = "123456789012"


def _state(name: str) -> dict:
    return {"Code": STATE_CODES[name], "Name": name}


class AwsApi:
    """The boto3 calls the providers make themselves, answered from the world (the module's docstring)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[tuple[float, str, dict]] = []
        self._handlers: dict[str, Callable[[dict], dict]] = {
            "ec2.DescribeInstances": self.describe_instances,
            "ec2.StopInstances": self.stop_instances,
            "ec2.StartInstances": self.start_instances,
            "ec2.ModifyInstanceAttribute": self.modify_instance_attribute,
            "ec2.DescribeInstanceAttribute": self.describe_instance_attribute,
            "ec2.TerminateInstances": self.terminate_instances,
            "elbv2.DescribeTargetHealth": self.describe_target_health,
            "elbv2.RegisterTargets": self.register_targets,
            "elbv2.DeregisterTargets": self.deregister_targets,
            "elbv2.DescribeTargetGroups": self.describe_target_groups,
            "elbv2.DescribeListeners": self.describe_listeners,
            "ec2.CreateReplaceRootVolumeTask": self.create_replace_root_volume_task,
            "ec2.DescribeReplaceRootVolumeTasks": self.describe_replace_root_volume_tasks,
            "ec2.DescribeVolumes": self.describe_volumes,
            "ec2.CreateSnapshot": self.create_snapshot,
            "ec2.DescribeSnapshots": self.describe_snapshots,
            "ec2.DeleteSnapshot": self.delete_snapshot,
        }
        self._session = None

    def handle(self, operation: str, handler: Callable[[dict], dict]) -> None:
        self._handlers[operation] = handler

    # --- wiring into boto3 ----------------------------------------------------------------------
    def install(self) -> None:
        """Every boto3 client created from now on (boto3.client(...) uses the default session) is
        answered by the world."""
        boto3.setup_default_session(aws_access_key_id="twin", aws_secret_access_key="twin", region_name="us-east-1")
        events = boto3.DEFAULT_SESSION.events
        events.register_first("before-parameter-build.*.*", self._keep_params, unique_id="twin-params")
        events.register("before-call.*.*", self._answer, unique_id="twin-answer")

    def uninstall(self) -> None:
        boto3.DEFAULT_SESSION = None

    @staticmethod
    def _keep_params(model, params, context, **_: Any) -> None:
        context["twin_params"] = dict(params)

    def _answer(self, model, params, context, **_: Any):
        service = model.service_model.service_name
        operation = f"{service}.{model.name}"
        api_params = context.get("twin_params", {})
        validate_parameters(api_params, model.input_shape)
        self.calls.append((self.world.now, operation, api_params))
        self.world.settle()  # what EC2 finished on its own by now (a termination) shows in every answer
        handler = self._handlers.get(operation)
        if handler is None:
            return self._error(400, "UnsupportedOperation", f"the twin's world does not model {operation}")
        try:
            response = handler(api_params)
        except WorldError as exc:
            return self._error(400, exc.code, str(exc))
        if model.output_shape is not None:
            validate_parameters(response, model.output_shape)
        return AWSResponse(None, 200, {}, None), {**response, "ResponseMetadata": {"HTTPStatusCode": 200}}

    @staticmethod
    def _error(status: int, code: str, message: str):
        return AWSResponse(None, status, {}, None), {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    # --- EC2 ------------------------------------------------------------------------------------
    def describe_instances(self, params: dict) -> dict:
        found = [i for i in self.world.instances.values() if self._matches(i, params)]
        return {
            "Reservations": [
                {"ReservationId": f"r-{i.id[2:]}", "OwnerId": ACCOUNT, "Instances": [self._instance(i)]}
                for i in sorted(found, key=lambda i: i.id)
            ]
        }

    def terminate_instances(self, params: dict) -> dict:
        """Every id must name an instance, or nothing is done (InvalidInstanceID.NotFound); each answer
        has the state before and now (EC2 API reference, TerminateInstances, InstanceStateChange)."""
        missing = [i for i in params["InstanceIds"] if i not in self.world.instances]
        if missing:
            raise WorldError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")
        changes = []
        for instance_id in params["InstanceIds"]:
            instance = self.world.instances[instance_id]
            before = instance.state
            self.world.begin_terminate(instance)
            changes.append(
                {
                    "InstanceId": instance_id,
                    "PreviousState": {"Code": STATE_CODES[before], "Name": before},
                    "CurrentState": {"Code": STATE_CODES[instance.state], "Name": instance.state},
                }
            )
        return {"TerminatingInstances": changes}

    def _matches(self, instance: Instance, params: dict) -> bool:
        if params.get("InstanceIds") and instance.id not in params["InstanceIds"]:
            return False
        for f in params.get("Filters", []):
            name, values = f["Name"], f["Values"]
            if name.startswith("tag:"):
                if instance.tags.get(name[4:]) not in values:
                    return False
            elif name == "instance-state-name":
                if instance.state not in values:
                    return False
            elif name == "instance-id":
                if instance.id not in values:
                    return False
            else:
                raise WorldError("InvalidParameterValue", f"The filter '{name}' is invalid")
        return True

    @staticmethod
    def _instance(i: Instance) -> dict:
        out: dict[str, Any] = {
            "InstanceId": i.id,
            "ImageId": i.image,
            "InstanceType": i.instance_type,
            "PrivateIpAddress": i.private_ip,
            "State": {"Code": STATE_CODES[i.state], "Name": i.state},
            "Placement": {"AvailabilityZone": i.az},
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(i.tags.items())],
        }
        if i.public_ip:
            out["PublicIpAddress"] = i.public_ip
        return out

    # Stop, modify, start (EC2 API Reference: StopInstances, StartInstances, ModifyInstanceAttribute,
    # DescribeInstanceAttribute). The world's stop and start take their modelled time before they
    # return, so the state a caller then describes is already `stopped` or `running`.
    def _known(self, instance_id: str) -> Instance:
        instance = self.world.instances.get(instance_id)
        if instance is None:
            raise WorldError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
        return instance

    def stop_instances(self, params: dict) -> dict:
        out = []
        for instance_id in params["InstanceIds"]:
            instance = self._known(instance_id)
            before = instance.state
            if before in ("terminated", "shutting-down"):
                raise WorldError(
                    "IncorrectInstanceState",
                    f"This instance '{instance_id}' is not in a state from which it can be stopped.",  # noqa: E501
                )
            if before in ("pending", "running"):
                self.world.stop_instance(instance)
            # AWS answers `stopping` for a running instance; stopping one that is stopped succeeds.
            now = "stopped" if before == "stopped" else "stopping"
            out.append({"InstanceId": instance_id, "PreviousState": _state(before), "CurrentState": _state(now)})
        return {"StoppingInstances": out}

    def start_instances(self, params: dict) -> dict:
        out = []
        for instance_id in params["InstanceIds"]:
            instance = self._known(instance_id)
            before = instance.state
            if before not in ("stopped", "pending", "running"):
                raise WorldError(
                    "IncorrectInstanceState",
                    f"The instance '{instance_id}' is not in a state from which it can be started.",
                )
            if before == "stopped":
                self.world.start_instance(instance)
            now = "pending" if before == "stopped" else before
            out.append({"InstanceId": instance_id, "PreviousState": _state(before), "CurrentState": _state(now)})
        return {"StartingInstances": out}

    def modify_instance_attribute(self, params: dict) -> dict:
        """InstanceType and UserData: only on a stopped instance (EC2 API Reference,
        ModifyInstanceAttribute: "the instance must be in the stopped state"); UserData arrives as
        the blob botocore base64-encoded on the wire, here as the bytes the caller gave."""
        instance = self._known(params["InstanceId"])
        wanted = {k for k in ("InstanceType", "UserData") if k in params}
        others = set(params) - wanted - {"InstanceId", "DryRun"}
        if others:
            raise WorldError("UnsupportedOperation", f"the twin's world does not model modifying {sorted(others)}")
        if wanted and instance.state != "stopped":
            raise WorldError(
                "IncorrectInstanceState",
                f"The instance '{instance.id}' is not in the 'stopped' state.",
            )
        self.world.wait("ec2.modify")
        if "InstanceType" in params:
            instance.instance_type = params["InstanceType"]["Value"]
        if "UserData" in params:
            value = params["UserData"]["Value"]
            instance.user_data = value.decode() if isinstance(value, bytes) else str(value)
        return {}

    def describe_instance_attribute(self, params: dict) -> dict:
        instance = self._known(params["InstanceId"])
        attribute = params["Attribute"]
        if attribute == "instanceType":
            return {"InstanceId": instance.id, "InstanceType": {"Value": instance.instance_type}}
        if attribute == "userData":
            # Base64 text, as EC2 returns it; an instance without user data has no Value.
            encoded = base64.b64encode(instance.user_data.encode()).decode() if instance.user_data else None
            return {"InstanceId": instance.id, "UserData": {"Value": encoded} if encoded else {}}
        raise WorldError("UnsupportedOperation", f"the twin's world does not model the attribute {attribute}")

    def create_replace_root_volume_task(self, params: dict) -> dict:
        instance = self.world.instances.get(params["InstanceId"])
        if instance is None or instance.state != "running":
            raise WorldError("IncorrectInstanceState", f"The instance '{params['InstanceId']}' is not running")
        task = self.world.replace_root(instance, params.get("ImageId", ""), params.get("ClientToken", ""))
        return {"ReplaceRootVolumeTask": self._root_task(task)}

    def describe_replace_root_volume_tasks(self, params: dict) -> dict:
        ids = params.get("ReplaceRootVolumeTaskIds") or list(self.world.root_tasks)
        return {
            "ReplaceRootVolumeTasks": [
                self._root_task(self.world.root_tasks[i]) for i in ids if i in self.world.root_tasks
            ]
        }

    def _root_task(self, task: dict) -> dict:
        return {
            "ReplaceRootVolumeTaskId": task["ReplaceRootVolumeTaskId"],
            "InstanceId": task["InstanceId"],
            "ImageId": task["ImageId"],
            "TaskState": self.world.root_task_state(task),
            "DeleteReplacedRootVolume": True,
        }

    def describe_volumes(self, params: dict) -> dict:
        """DescribeVolumes: by VolumeIds (a missing one is InvalidVolume.NotFound) or by the volume-id
        filter (a missing one is simply not listed), as the EC2 API Reference says."""
        wanted = set(params.get("VolumeIds") or [])
        missing = wanted - set(self.world.volumes)
        if missing:
            raise WorldError("InvalidVolume.NotFound", f"The volume '{sorted(missing)[0]}' does not exist.")
        found = []
        for volume in self.world.volumes.values():
            keep = not wanted or volume.id in wanted
            for f in params.get("Filters", []):
                if f["Name"] != "volume-id":
                    raise WorldError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
                keep &= volume.id in f["Values"]
            if keep:
                found.append(
                    {
                        "VolumeId": volume.id,
                        "Size": volume.size,
                        "AvailabilityZone": volume.az,
                        "State": volume.state,
                        "VolumeType": "gp3",
                        "Encrypted": True,
                        "Tags": [{"Key": k, "Value": v} for k, v in sorted(volume.tags.items())],
                    }
                )
        return {"Volumes": found}

    def create_snapshot(self, params: dict) -> dict:
        volume = self.world.volumes.get(params["VolumeId"])
        if volume is None:
            raise WorldError("InvalidVolume.NotFound", f"The volume '{params['VolumeId']}' does not exist.")
        tags = {t["Key"]: t["Value"] for spec in params.get("TagSpecifications", []) for t in spec.get("Tags", [])}
        return self._snapshot(self.world.snapshot(volume, params.get("Description", ""), tags))

    def describe_snapshots(self, params: dict) -> dict:
        found = []
        for snapshot in self.world.snapshots.values():
            if params.get("SnapshotIds") and snapshot["SnapshotId"] not in params["SnapshotIds"]:
                continue
            keep = True
            for f in params.get("Filters", []):
                if f["Name"].startswith("tag:"):
                    keep &= snapshot["Tags"].get(f["Name"][4:]) in f["Values"]
                elif f["Name"] == "volume-id":
                    keep &= snapshot["VolumeId"] in f["Values"]
                else:
                    raise WorldError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
            if keep:
                found.append(self._snapshot(snapshot))
        return {"Snapshots": found}

    def delete_snapshot(self, params: dict) -> dict:
        if self.world.snapshots.pop(params["SnapshotId"], None) is None:
            raise WorldError("InvalidSnapshot.NotFound", f"The snapshot '{params['SnapshotId']}' does not exist.")
        return {}

    def _snapshot(self, snapshot: dict) -> dict:
        import datetime

        return {
            "SnapshotId": snapshot["SnapshotId"],
            "VolumeId": snapshot["VolumeId"],
            "VolumeSize": snapshot["VolumeSize"],
            "Description": snapshot["Description"],
            "State": "completed" if self.world.now >= snapshot["done"] else "pending",
            "OwnerId": ACCOUNT,
            "StartTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
            + datetime.timedelta(seconds=snapshot["StartTime"]),
            "Encrypted": True,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(snapshot["Tags"].items())],
        }

    # --- Elastic Load Balancing v2 --------------------------------------------------------------
    def _group(self, arn: str):
        group = self.world.target_groups.get(arn)
        if group is None:
            raise WorldError("TargetGroupNotFound", f"Target groups '{arn}' not found")
        return group

    def describe_target_health(self, params: dict) -> dict:
        group = self._group(params["TargetGroupArn"])
        now = self.world.now
        targets = params.get("Targets")
        if targets is None:  # the registered targets (draining ones too)
            targets = [
                {"Id": i, "Port": group.port}
                for i in sorted(group.registrations)
                if self.world.health(group, i, now)[1] != "Target.NotRegistered"
            ]
        out = []
        for target in targets:
            state, reason = self.world.health(group, target["Id"], now)
            health: dict[str, Any] = {"State": state}
            if reason:
                health["Reason"] = reason
            out.append(
                {
                    "Target": {"Id": target["Id"], "Port": target.get("Port", group.port)},
                    "HealthCheckPort": str(group.port),
                    "TargetHealth": health,
                }
            )
        return {"TargetHealthDescriptions": out}

    def describe_target_groups(self, params: dict) -> dict:
        """A group's LoadBalancerArns: the balancers whose listeners forward to it."""
        out = []
        for arn in params.get("TargetGroupArns") or []:
            group = self._group(arn)
            used = [lb.arn for lb in self.world.load_balancers.values() if arn in lb.listeners.values()]
            out.append({"TargetGroupArn": arn, "Port": group.port, "LoadBalancerArns": used})
        return {"TargetGroups": out}

    def describe_listeners(self, params: dict) -> dict:
        lb = self.world.load_balancers.get(params.get("LoadBalancerArn", ""))
        if lb is None:
            raise WorldError("LoadBalancerNotFound", f"Load balancers '{params.get('LoadBalancerArn')}' not found")
        return {
            "Listeners": [
                {
                    "LoadBalancerArn": lb.arn,
                    "Port": port,
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": group}],
                }
                for port, group in sorted(lb.listeners.items())
            ]
        }

    def register_targets(self, params: dict) -> dict:
        group = self._group(params["TargetGroupArn"])
        for target in params["Targets"]:
            self.world.register(group, target["Id"])
        return {}

    def deregister_targets(self, params: dict) -> dict:
        # AWS: deregistering a target that is not registered "returns successfully".
        group = self._group(params["TargetGroupArn"])
        for target in params["Targets"]:
            self.world.deregister(group, target["Id"])
        return {}
