"""EC2 in the twin's world: launching, booting, stopping, starting and terminating instances, replacing
a root volume, and the AWS calls a node makes at boot (through twin/network.py)."""

from __future__ import annotations

from typing import Any, Optional

from .clock import Killed
from .durations import seconds
from .network import Endpoint, parameter_arn
from .node_ports import host_key_parameter_of
from .world_objects import ACCOUNT, AWS_ENDPOINT, Instance, Root
from .world_state import WorldState


class WorldEc2(WorldState):
    """The world's EC2: instance states and addresses as EC2 changes them, and what a boot starts."""

    # --- EC2 ----------------------------------------------------------------------------------
    def launch(
        self,
        name: str,
        region: str,
        az: str,
        instance_type: str,
        public: bool,
        tags: dict[str, str],
        user_data: str,
        security_groups: tuple[str, ...] = (),
        profile: Optional[str] = None,
    ) -> Instance:
        n = next(self._addresses)
        instance = Instance(
            id=self.new_id("i"),
            name=name,
            region=region,
            az=az,
            instance_type=instance_type,
            private_ip=f"10.{20 + n // 250}.0.{n % 250}",
            public=public,
            tags=dict(tags),
            user_data=user_data,
            security_groups=tuple(security_groups),
            profile=profile,
        )
        self.instances[instance.id] = instance
        self._set_state(instance, "pending")
        self.note(f"launch {name} {instance.id}")
        try:
            self.wait("ec2.launch")
        except Killed:
            # RunInstances has answered: EC2 takes the instance from `pending` to `running` whether
            # or not its caller still waits for it (EC2 User Guide, "Amazon EC2 instance state
            # changes"; "Instance lifecycle"). The killed process is woken at the launch's end.
            self._boot(instance)
            self.note(f"{name} {instance.id} runs, launched by a killed deployment")
            raise
        self._boot(instance)
        return instance

    def _set_state(self, instance: Instance, state: str) -> None:
        instance.state = state
        instance.states.append((self.now, state))

    def _boot(self, instance: Instance) -> None:
        """`running`: a public address when it has one (a new one on every start), sshd after boot,
        and Bitbucket started by systemd when its unit is enabled."""
        self._set_state(instance, "running")
        if instance.public:
            n = next(self._addresses)
            instance.public_ip = f"203.0.{113 + n // 250}.{n % 250}"
        instance.ssh_ready_at = self.now + seconds("ec2.boot")
        instance.host_key_pinned = self.boot_reads_host_key(instance)
        # fstab mounts the home at boot (nofail) when its volume is attached.
        mounted = instance.root.mounted
        if mounted and (mounted not in self.volumes or self.volumes[mounted].attached_to != instance.id):
            instance.root.mounted = None
        if instance.root.enabled and instance.root.current:
            self.start_bitbucket(instance, at=instance.ssh_ready_at)

    # --- the network and IAM (twin/network.py decides) -------------------------------------------
    def endpoint(self, instance: Instance) -> Endpoint:
        return Endpoint(instance.private_ip, instance.security_groups, instance.name)

    def role_of(self, instance: Instance) -> Optional[str]:
        return self.network.profiles.get(instance.profile or "")

    def node_calls(self, instance: Instance, action: str, resource: str, context: dict[str, str]) -> bool:
        """An AWS API call by a node: out through its egress rules on 443 to the regional endpoint,
        signed by its instance profile's role. False: the connection times out or AWS answers
        AccessDenied (the reason is in network.denied)."""
        api = Endpoint(AWS_ENDPOINT, name=f"{action.split(':')[0]}.{instance.region}.amazonaws.com")
        if not self.network.flow(self.endpoint(instance), api, 443, self.now, f"{instance.name} calls {action}"):
            return False
        return self.network.call(instance.name, self.role_of(instance), action, resource, context, self.now)

    def boot_reads_host_key(self, instance: Instance) -> Optional[bool]:
        """pin-host-key.sh at boot: `aws ssm get-parameter --with-decryption` of the parameter its user
        data names (and kms:Decrypt through SSM with a customer-managed key). When it fails, sshd
        keeps the key it generated, which is not the one the installer pins."""
        name = host_key_parameter_of(instance.user_data)
        if name is None:
            return None
        arn = parameter_arn(instance.region, ACCOUNT, name)
        if not self.node_calls(instance, "ssm:GetParameter", arn, {}):
            return False
        key = self.parameter_keys.get(name)
        if key:
            context = {
                "kms:ViaService": f"ssm.{instance.region}.amazonaws.com",
                "kms:EncryptionContext:PARAMETER_ARN": arn,
            }
            return self.node_calls(instance, "kms:Decrypt", key, context)
        return True

    def stop_instance(self, instance: Instance) -> None:
        """StopInstances, waited until `stopped`: the public address is released."""
        if instance.state == "stopped":
            return
        self._set_state(instance, "stopping")
        self.stop_bitbucket(instance, reason="instance stopping")
        self.wait("ec2.stop")
        self._set_state(instance, "stopped")
        instance.public_ip = None
        self.note(f"stopped {instance.name}")

    def start_instance(self, instance: Instance) -> None:
        self._set_state(instance, "pending")
        self.wait("ec2.start")
        self._boot(instance)
        self.note(f"started {instance.name} ({instance.public_ip or instance.private_ip})")

    def terminate(self, instance: Instance) -> None:
        """TerminateInstances, waited until `terminated` (the provider's delete)."""
        self.begin_terminate(instance)
        self.wait(max(0.0, self.terminating.get(instance.id, self.now) - self.now))
        self.settle()

    def begin_terminate(self, instance: Instance) -> None:
        """TerminateInstances as the API answers it: `shutting-down` at once, `terminated` once EC2
        is done (EC2 API reference, TerminateInstances: "Terminated instances remain visible after
        termination"; the call returns the instance's CurrentState, `shutting-down`). Repeated, it
        changes nothing (the call is idempotent)."""
        if instance.state in ("shutting-down", "terminated"):
            return
        self.stop_bitbucket(instance, reason="terminating")
        self._set_state(instance, "shutting-down")
        self.terminating[instance.id] = self.now + seconds("ec2.terminate")

    def settle(self) -> None:
        """The terminations EC2 has finished by now: `terminated` at the instant each finished,
        its volumes detached (EBS: a data volume outlives its instance, `available` again)."""
        for instance_id, done in sorted(self.terminating.items(), key=lambda item: item[1]):
            if done > self.now:
                continue
            del self.terminating[instance_id]
            instance = self.instances[instance_id]
            instance.state = "terminated"
            instance.states.append((done, "terminated"))
            instance.public_ip = None
            for volume in self.volumes.values():
                if volume.attached_to == instance.id:
                    volume.attached_to, volume.device, volume.state = None, None, "available"
            self.note(f"terminated {instance.name} {instance.id}")

    def replace_root(self, instance: Instance, image_id: str, token: str) -> dict[str, Any]:
        """CreateReplaceRootVolumeTask with an image: the instance reboots onto a new root volume from
        it, keeping its id, addresses and data volumes (EC2 User Guide, "Replace a root volume").
        The installation and the fstab line were on the old root: the home is not mounted after."""
        for task in self.root_tasks.values():
            if task["ClientToken"] == token:  # a retry with the same token: the same task
                return task
        task = {
            "ReplaceRootVolumeTaskId": self.new_id("replacevol"),
            "InstanceId": instance.id,
            "ImageId": image_id,
            "ClientToken": token,
            "started": self.now,
            "done": self.now + seconds("ec2.replace_root"),
        }
        self.root_tasks[task["ReplaceRootVolumeTaskId"]] = task
        self.stop_bitbucket(instance, reason="root volume replacement (reboot)")
        instance.root = Root()
        instance.image = image_id
        instance.ssh_ready_at = task["done"] + seconds("ec2.boot")
        instance.host_key_pinned = self.boot_reads_host_key(instance)
        self.note(f"root volume of {instance.name} replaced from {image_id}")
        return task

    def root_task_state(self, task: dict[str, Any]) -> str:
        return "succeeded" if self.now >= task["done"] else "in-progress"

    def instance_at(self, address: str) -> Optional[Instance]:
        for instance in self.instances.values():
            if instance.state != "terminated" and address in (instance.public_ip, instance.private_ip):
                return instance
        return None
