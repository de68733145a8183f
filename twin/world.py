"""The world the twin's `pulumi up` changes: EC2 instances, EBS volumes, network load balancers,
DNS, and Bitbucket on each node, all on modelled time.

Every behaviour names its source. What clients see is reached the way they reach it: a host name
resolves through DNS to a load balancer (or a node, nginx mode), the load balancer picks a target
by its health checks, and the node answers only while Bitbucket runs on it.

AWS behaviour (what forces a replacement is in rules.py; what happens in the world, here):
- stop/start: "We release your instance's public IP address when it is stopped ... Your stopped
  instance receives a new public IP address when it is started"; private addresses and attached EBS
  volumes are kept (EC2 User Guide, "Public IPv4 addresses"; "How stop and start works").
- AttachVolume: "to a running or stopped instance"; nothing starts a stopped instance (botocore ec2
  AttachVolume; TPA ebs_volume_attachment.go has no StartInstances). DetachVolume of a mounted volume
  "can result in the volume becoming stuck in the busy state" (botocore ec2 DetachVolume).
- RegisterTargets: "it must be in the running state when you register it"; a target passes to
  healthy after HealthyThresholdCount consecutive successful checks and out of service after
  UnhealthyThresholdCount failures (NLB guide, "Health checks for your target groups"); a
  deregistered target is `draining` for the deregistration delay, then `unused` (NLB guide, "Target
  groups": "changes the state of a deregistering target to unused after 300 seconds"); when no
  target is healthy the NLB fails open to all registered targets (same health-check page).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from .clock import Killed, Scheduler
from .durations import seconds
from .network import Endpoint, Network, parameter_arn
from .node_ports import host_key_parameter_of, matches, node_answer

# Who the twin's world holds outside the VPCs (addresses of the documentation ranges, as the stacks
# in twin/stacks name them): the admin who runs `pulumi up`, the primary's egress address, and the
# regional AWS API endpoints a node calls (reached through its egress rules on 443).
DEPLOYER = "198.51.100.7"
PRIMARY = "203.0.113.10"
AWS_ENDPOINT = "52.94.0.10"
ACCOUNT = "123456789012"
# Route 53 answers an alias to an ELB load balancer with the load balancer's TTL, 60 seconds (Route 53
# Developer Guide, "Choosing between alias and non-alias records": "Route 53 uses the default TTL for
# the resource"; Route 53 FAQ: "alias records with a fixed TTL of 60 seconds" for ELB endpoints).
ALIAS_TTL_S = 60.0

Listener = Callable[[str], None]


class WorldError(Exception):
    """An AWS API or node operation failed as AWS or the node would fail it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


# --- Bitbucket on a node ---------------------------------------------------------------------------
@dataclass
class Home:
    """What a home volume holds: the mirror it belongs to and the files the install wrote there."""

    volume_id: str
    generation: Optional[str] = None  # the marker the install writes (a rebuilt mirror wipes it)
    properties: Optional[str] = None  # shared/bitbucket.properties
    mirror: Optional[str] = None  # the emulator mirror this home's Bitbucket belongs to
    ssh_server_key: Optional[str] = None  # shared/config/ssh-server-keys.pem
    files: dict[str, str] = field(default_factory=dict)
    # The newest Bitbucket version that started on it: it upgraded the home's data, and an older
    # version refuses such a home (Bitbucket cannot be downgraded; the upgrade guide's way back is
    # a restore of the home and database taken before the upgrade).
    version: Optional[str] = None


def _copy_home(home: Home, volume_id: Optional[str] = None) -> Home:
    """What a snapshot holds of a home, or what a volume created from it holds."""
    return replace(home, volume_id=volume_id or home.volume_id, files=dict(home.files))


@dataclass
class Root:
    """What the world needs to know of an instance's root disk (its files are the node's scratch
    root, twin/node_host.py, which keeps these up to date): the version the `current` link names,
    whether the unit is enabled (systemd starts it at boot), and the volume mounted at the home."""

    current: Optional[str] = None
    enabled: bool = False
    mounted: Optional[str] = None  # the volume id mounted at the Bitbucket home (fstab)


@dataclass
class Run:
    """One state of Bitbucket on an instance from `since`: stopped, starting, running or failed."""

    since: float
    state: str
    version: Optional[str] = None
    mirror: Optional[str] = None


@dataclass
class Instance:
    id: str
    name: str
    region: str
    az: str
    instance_type: str
    private_ip: str
    public: bool
    tags: dict[str, str]
    user_data: str
    image: str = ""
    security_groups: tuple[str, ...] = ()  # vpc_security_group_ids
    profile: Optional[str] = None  # iam_instance_profile (its role signs the node's AWS calls)
    # Whether the boot installed the pinned host key from SSM (components/boot/pin-host-key.sh); None:
    # the user data names no parameter (an instance of the world's own tests).
    host_key_pinned: Optional[bool] = None
    state: str = "pending"
    public_ip: Optional[str] = None
    ssh_ready_at: float = 0.0
    root: Root = field(default_factory=Root)
    runs: list[Run] = field(default_factory=lambda: [Run(0.0, "stopped")])
    states: list[tuple[float, str]] = field(default_factory=list)

    def run_at(self, t: float) -> Run:
        found = self.runs[0]
        for run in self.runs:
            if run.since <= t:
                found = run
        return found

    def running_at(self, t: float) -> bool:
        state = "pending"
        for since, value in self.states:
            if since <= t:
                state = value
        return state == "running"

    def answers_at(self, t: float) -> bool:
        """/status answers 200 (RUNNING) at t: the instance runs and Bitbucket is up on it."""
        return self.running_at(t) and self.run_at(t).state == "running"


@dataclass
class Volume:
    id: str
    region: str
    az: str
    size: int
    tags: dict[str, str]
    attached_to: Optional[str] = None
    device: Optional[str] = None
    state: str = "creating"
    home: Home = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.home is None:
            self.home = Home(self.id)


# --- load balancing --------------------------------------------------------------------------------
@dataclass
class Registration:
    registered_at: float
    deregistered_at: Optional[float] = None


@dataclass
class HealthCheck:
    interval: float
    healthy_threshold: int
    unhealthy_threshold: int
    # TPA aws_lb_target_group health_check defaults for a TCP target group: a TCP check on the
    # traffic port; path and matcher apply to HTTP and HTTPS checks only.
    protocol: str = "TCP"
    port: str = "traffic-port"
    path: str = "/"
    matcher: str = "200-399"


@dataclass
class TargetGroup:
    arn: str
    name: str
    port: int
    check: HealthCheck
    deregistration_delay: float
    registrations: dict[str, list[Registration]] = field(default_factory=dict)
    # preserve_client_ip: on by default for instance targets over TCP and TLS (NLB guide, "Client IP
    # preservation").
    preserve_client_ip: bool = True

    def current(self, instance_id: str, t: float) -> Optional[Registration]:
        """The registration in effect at t: registered, or deregistered and still draining."""
        found = None
        for reg in self.registrations.get(instance_id, []):
            if reg.registered_at <= t:
                found = reg
        return found


@dataclass
class LoadBalancer:
    arn: str
    dns_name: str
    region: str
    active_at: float
    listeners: dict[int, str] = field(default_factory=dict)  # port -> target group arn
    security_groups: tuple[str, ...] = ()
    address: str = "10.0.255.10"  # its nodes' private address: where health checks come from


class World:
    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.instances: dict[str, Instance] = {}
        self.volumes: dict[str, Volume] = {}
        self.target_groups: dict[str, TargetGroup] = {}
        self.load_balancers: dict[str, LoadBalancer] = {}
        self.dns: dict[str, tuple[str, str]] = {}  # host -> ("lb", dns name) | ("ip", address)
        # Every change of a record: (when, answer or None once deleted, the TTL of that answer).
        self.dns_history: dict[str, list[tuple[float, Optional[tuple[str, str]], float]]] = {}
        self.network = Network()
        self.deployer = DEPLOYER
        self.parameter_keys: dict[str, Optional[str]] = {}  # SSM parameter name -> its KMS key
        self.parameters: dict[str, str] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.root_tasks: dict[str, dict[str, Any]] = {}
        self.terminating: dict[str, float] = {}  # instance id -> when EC2 has terminated it
        self.mirrors: dict[str, Any] = {}  # emulator mirror name -> emulator Mirror
        # Which mirror a starting Bitbucket belongs to (set by the twin, which knows the emulator):
        # (instance, home, version, ready_at) -> emulator mirror name, or None when it cannot join.
        self.join_mirror: Optional[Callable[[Instance, Home, str, float], Optional[str]]] = None
        # DNS the admin keeps (no hosted zone in the stack): host -> target.
        self.fallback_dns: Optional[Callable[[str], Optional[tuple[str, str]]]] = None
        self._ids = itertools.count(1)
        self._addresses = itertools.count(10)
        self._round_robin = itertools.count()
        self._health_cache: dict[tuple[str, str, float], tuple[int, int, int, list[tuple[float, str]]]] = {}
        self.log: list[tuple[float, str]] = []

    # --- time ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.sched.now

    def wait(self, key_or_seconds: str | float) -> None:
        """Spend modelled time in the calling step."""
        duration = seconds(key_or_seconds) if isinstance(key_or_seconds, str) else float(key_or_seconds)
        if self.sched.in_process():
            self.sched.sleep(duration)

    def note(self, what: str) -> None:
        self.log.append((self.now, what))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):017x}"

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

    def snapshot(self, volume: Volume, description: str, tags: dict[str, str]) -> dict[str, Any]:
        """CreateSnapshot: point in time at the call (the volume stays in use); `completed` later."""
        snapshot = {
            "SnapshotId": self.new_id("snap"),
            "VolumeId": volume.id,
            "VolumeSize": volume.size,
            "Description": description,
            "Tags": dict(tags),
            "StartTime": self.now,
            "done": self.now + seconds("ebs.snapshot"),
            "home": _copy_home(volume.home),
            "volume_tags": dict(volume.tags),
        }
        self.snapshots[snapshot["SnapshotId"]] = snapshot
        self.note(f"snapshot {snapshot['SnapshotId']} of {volume.id}")
        return snapshot

    def snapshot_status(self, snapshot: dict[str, Any]) -> str:
        return "completed" if self.now >= snapshot["done"] else "pending"

    # --- data sources (what the program reads at preview and up) --------------------------------
    @staticmethod
    def zone_of(region: str, subnet: str) -> str:
        """The zone of a subnet of the program's lookups (each subnet one zone, fixed)."""
        return region + "abc"[int(hashlib.sha1(subnet.encode()).hexdigest(), 16) % 3]

    def data_source(self, token: str, args: dict[str, Any]) -> Optional[dict[str, Any]]:
        """terraform-provider-aws's data sources over what exists; None: not one the world answers."""
        if token == "aws:ec2/getSubnet:getSubnet":
            region = args.get("region") or "us-east-1"
            return {"id": args.get("id"), "availabilityZone": self.zone_of(region, args.get("id") or "")}
        if token == "aws:ebs/getSnapshotIds:getSnapshotIds":
            # data_source_ebs_snapshot_ids.go: DescribeSnapshots with the filters and owners, the
            # ids sorted by StartTime, newest first; none found is an empty list, not an error.
            found = [s for s in self.snapshots.values() if self._snapshot_matches(s, args.get("filters") or [])]
            return {
                "id": args.get("region") or "",
                "ids": [s["SnapshotId"] for s in sorted(found, key=lambda s: s["StartTime"], reverse=True)],
            }
        if token == "aws:ebs/getSnapshot:getSnapshot":
            # data_source_ebs_snapshot.go: exactly one result or an error.
            found = [s for s in self.snapshots.values() if s["SnapshotId"] in (args.get("snapshotIds") or [])]
            if len(found) != 1:
                raise WorldError(
                    "NotFound", "Your query returned no results. Please change your search criteria and try again."
                )
            (snapshot,) = found
            return {
                "id": snapshot["SnapshotId"],
                "snapshotId": snapshot["SnapshotId"],
                "volumeId": snapshot["VolumeId"],
                "volumeSize": snapshot["VolumeSize"],
                "state": self.snapshot_status(snapshot),
                "tags": dict(snapshot["Tags"]),
            }
        return None

    def _snapshot_matches(self, snapshot: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
        for f in filters:
            name, values = f["name"], f["values"]
            if name.startswith("tag:"):
                have = snapshot["Tags"].get(name[4:])
            elif name == "status":
                have = self.snapshot_status(snapshot)
            elif name == "volume-id":
                have = snapshot["VolumeId"]
            else:
                raise WorldError("InvalidParameterValue", f"The filter '{name}' is invalid")
            if have not in values:
                return False
        return True

    def instance_at(self, address: str) -> Optional[Instance]:
        for instance in self.instances.values():
            if instance.state != "terminated" and address in (instance.public_ip, instance.private_ip):
                return instance
        return None

    # --- EBS ----------------------------------------------------------------------------------
    def create_volume(
        self, region: str, az: str, size: int, tags: dict[str, str], snapshot_id: Optional[str] = None
    ) -> Volume:
        volume = Volume(id=self.new_id("vol"), region=region, az=az, size=size, tags=dict(tags))
        if snapshot_id:  # a volume from a snapshot holds what the snapshotted home held
            source = self.snapshots.get(snapshot_id)
            if source is None:
                raise WorldError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
            volume.home = _copy_home(source["home"], volume.id)
        self.volumes[volume.id] = volume
        self.wait("ebs.create")
        volume.state = "available"
        return volume

    def attach(self, volume: Volume, instance: Instance, device: str) -> None:
        if volume.az != instance.az:
            raise WorldError(
                "InvalidVolume.ZoneMismatch", f"{volume.id} is in {volume.az}, {instance.id} in {instance.az}"
            )
        if volume.attached_to not in (None, instance.id):
            raise WorldError("VolumeInUse", f"{volume.id} is attached to {volume.attached_to}")
        if instance.state not in ("running", "stopped"):
            raise WorldError("IncorrectState", f"{instance.id} is {instance.state}")
        self.wait("ebs.attach")
        volume.attached_to, volume.device, volume.state = instance.id, device, "in-use"
        self.note(f"attached {volume.id} to {instance.name}")

    def detach(self, volume: Volume) -> None:
        if volume.attached_to is None:
            return
        instance = self.instances[volume.attached_to]
        if instance.state == "running" and instance.root.mounted == volume.id:
            # A mounted file system: the detach stays `busy` (botocore ec2 DetachVolume); terraform
            # gives up after its 5 minute delete timeout (ebs_volume_attachment.go Timeouts).
            self.wait(300)
            raise WorldError("VolumeInUse", f"{volume.id} is mounted on {instance.name}: the detach stays busy")
        self.wait("ebs.detach")
        volume.attached_to, volume.device, volume.state = None, None, "available"
        if instance.root.mounted == volume.id:
            instance.root.mounted = None
        self.note(f"detached {volume.id} from {instance.name}")

    # --- Bitbucket ----------------------------------------------------------------------------
    def home_of(self, instance: Instance) -> Optional[Home]:
        volume = self.volumes.get(instance.root.mounted or "")
        if volume is None or volume.attached_to != instance.id:
            return None
        return volume.home

    def stop_bitbucket(self, instance: Instance, reason: str = "") -> None:
        run = instance.run_at(self.now)
        # A start scheduled for later (boot) is cancelled too.
        instance.runs = [r for r in instance.runs if r.since <= self.now]
        if run.state != "stopped":
            instance.runs.append(Run(self.now, "stopped"))
            self._leave_farm(instance)
            self.note(f"Bitbucket stopped on {instance.name} ({reason})")

    def start_bitbucket(self, instance: Instance, at: Optional[float] = None, first: bool = False) -> None:
        """Bitbucket starts at `at` and answers RUNNING once started; a farm node joins its cluster
        (AWS discovery: the running instances with its farm tag) if the versions allow it."""
        at = self.now if at is None else at
        instance.runs = [r for r in instance.runs if r.since <= self.now]
        home = self.home_of(instance)
        version = instance.root.current
        if home is None or version is None or home.properties is None:
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket failed on {instance.name}: no home or no installation")
            return
        if home.version is not None and _newer(home.version, version):
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket {version} refused the home of {instance.name}: it holds {home.version}'s data")
            return
        startup = seconds("bitbucket.first_start" if first else "bitbucket.start")
        mirror_name = self.join_mirror(instance, home, version, at + startup) if self.join_mirror else None
        if mirror_name is None:
            instance.runs.append(Run(at, "failed", version))
            self.note(f"Bitbucket failed on {instance.name}: it could not join its farm on {version}")
            return
        # Only a node that started (joined its farm) upgrades the home's data; one refused at the
        # join stops before it touches it.
        home.version = version if home.version is None or _newer(version, home.version) else home.version
        instance.runs.append(Run(at, "starting", version, mirror_name))
        instance.runs.append(Run(at + startup, "running", version, mirror_name))
        self.note(f"Bitbucket {version} starting on {instance.name} ({mirror_name})")

    def _leave_farm(self, instance: Instance) -> None:
        for mirror in self.mirrors.values():
            for node in mirror.farm_nodes:
                if node.address == instance.private_ip:
                    node.joined = False

    # --- load balancing -----------------------------------------------------------------------
    def health(self, group: TargetGroup, instance_id: str, t: float) -> tuple[str, str]:
        """(state, reason) of a target at t, as DescribeTargetHealth reports it."""
        reg = group.current(instance_id, t)
        instance = self.instances.get(instance_id)
        if reg is None:
            return "unused", "Target.NotRegistered"
        if reg.deregistered_at is not None and reg.deregistered_at <= t:
            if t < reg.deregistered_at + group.deregistration_delay:
                return "draining", "Target.DeregistrationInProgress"
            return "unused", "Target.NotRegistered"
        if instance is None or not instance.running_at(t):
            return "unused", "Target.InvalidState"
        return self._checked(group, instance, reg, t)

    def _checked(self, group: TargetGroup, instance: Instance, reg: Registration, t: float) -> tuple[str, str]:
        """Replays the checks since registration (every `interval`, thresholds as configured). The
        replay up to now is kept as a list of state changes: the past does not change."""
        check = group.check
        key = (group.arn, instance.id, reg.registered_at)
        k, ok, bad, changes = self._health_cache.get(key, (1, 0, 0, [(reg.registered_at, "initial")]))
        if t >= reg.registered_at + k * check.interval:
            changes = list(changes)
            state = changes[-1][1]
            while reg.registered_at + k * check.interval <= t:
                at = reg.registered_at + k * check.interval
                if self._check_passes(group, instance, at):
                    ok, bad = ok + 1, 0
                    new = "healthy" if ok >= check.healthy_threshold else state
                else:
                    ok, bad = 0, bad + 1
                    new = "unhealthy" if bad >= check.unhealthy_threshold else state
                if new != state:
                    changes.append((at, new))
                    state = new
                k += 1
            if t <= self.now:
                self._health_cache[key] = (k, ok, bad, changes)
        state = changes[bisect.bisect_right([c[0] for c in changes], t) - 1][1]
        reason = {"initial": "Elb.InitialHealthChecking", "healthy": "", "unhealthy": "Target.FailedHealthChecks"}
        return state, reason[state]

    def _check_passes(self, group: TargetGroup, instance: Instance, t: float) -> bool:
        """One health check at t: from the load balancer's address (its security groups) to the
        check port, in the check's protocol, the answer against the matcher (NLB guide, "Health
        checks for Network Load Balancer target groups")."""
        check = group.check
        port = group.port if check.port in ("traffic-port", "", None) else int(check.port)
        lb = self.lb_of(group)
        if lb is not None:
            source = Endpoint(lb.address, lb.security_groups, f"load balancer {lb.dns_name}")
            if self.network.blocked(source, self.endpoint(instance), port, t) is not None:
                return False
        status = node_answer(instance, t, check.protocol.upper(), port, check.path)
        if check.protocol.upper() == "TCP":
            return status is not None
        return status is not None and matches(check.matcher, status)

    def lb_of(self, group: TargetGroup) -> Optional[LoadBalancer]:
        return next((lb for lb in self.load_balancers.values() if group.arn in lb.listeners.values()), None)

    def lb_reaches(self, lb: LoadBalancer, instance: Instance, t: float, client: Optional[str] = None) -> bool:
        """A client's connection forwarded to a target: out of the load balancer's groups, into the
        node's, carrying the client's address when the group preserves it (its groups either way)."""
        for group in self.groups_of(lb):
            address = client if client is not None and group.preserve_client_ip else lb.address
            source = Endpoint(address, lb.security_groups, f"load balancer {lb.dns_name}")
            if self.network.blocked(source, self.endpoint(instance), group.port, t) is not None:
                return False
        return True

    def reaches_site(self, host: str, source: str, port: int, t: float) -> Optional[str]:
        """Why a new connection from `source` (an address outside the VPC: a client, the primary, the
        deployer) to host:port at t fails, or None when a node answers it: the name as the source's
        resolver holds it, the load balancer's groups letting it in on the listener, and a target
        the load balancer may reach (or the node's own groups, nginx mode)."""
        target = self.resolve(host, t)
        if target is None:
            return f"{host} does not resolve"
        kind, value = target
        origin = Endpoint(source, name="source")
        if kind == "ip":
            instance = self.instance_at(value)
            if instance is None or not instance.answers_at(t):
                return f"nothing answers at {value}"
            return self.network.blocked(origin, Endpoint(value, instance.security_groups, instance.name), port, t)
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None or port not in lb.listeners or t < lb.active_at:
            return f"no load balancer listening on {value}:{port}"
        refused = self.network.blocked(
            origin, Endpoint(lb.address, lb.security_groups, f"load balancer {value}"), port, t
        )
        if refused is not None:
            return refused
        healthy, registered = self.routable(lb, t)
        if not any(self.lb_reaches(lb, i, t, client=source) and i.answers_at(t) for i in healthy or registered):
            return f"no target behind {value}:{port} answers"
        return None

    def register(self, group: TargetGroup, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is None or instance.state != "running":
            raise WorldError(
                "InvalidTarget",
                f"The following targets are not in a running state and cannot be registered: '{instance_id}'",
            )
        reg = group.current(instance_id, self.now)
        if reg is not None and reg.deregistered_at is None:
            return
        group.registrations.setdefault(instance_id, []).append(Registration(self.now))
        self.note(f"registered {instance.name} in {group.name}")

    def deregister(self, group: TargetGroup, instance_id: str) -> None:
        reg = group.current(instance_id, self.now)
        if reg is not None and reg.deregistered_at is None:
            reg.deregistered_at = self.now
            name = self.instances[instance_id].name if instance_id in self.instances else instance_id
            self.note(f"deregistered {name} from {group.name}")

    def groups_of(self, lb: LoadBalancer) -> list[TargetGroup]:
        return [self.target_groups[arn] for arn in lb.listeners.values() if arn in self.target_groups]

    # --- what clients reach -------------------------------------------------------------------
    def set_record(self, host: str, answer: Optional[tuple[str, str]], ttl: float) -> None:
        """Route 53 changes a record (None: deletes it); resolvers keep what they cached for its TTL."""
        if answer is None:
            self.dns.pop(host, None)
        else:
            self.dns[host] = answer
        self.dns_history.setdefault(host, []).append((self.now, answer, float(ttl)))

    def resolve(self, host: str, t: Optional[float] = None) -> Optional[tuple[str, str]]:
        """What a client resolves at t: a client that resolved just before a change keeps the old
        answer until that answer's TTL has passed (RFC 1035 §3.2.1, TTL: "the time interval that
        the resource record may be cached"), so the new answer is everyone's only from change + TTL."""
        t = self.now if t is None else t
        history = self.dns_history.get(host)
        if history:
            found, previous_ttl = None, 0.0
            for since, answer, ttl in history:
                if since + previous_ttl <= t:
                    found = answer
                elif since > t:
                    break
                previous_ttl = ttl
        else:
            found = self.dns.get(host)
        if found is None and self.fallback_dns is not None:
            found = self.fallback_dns(host)
        return found

    def routable(self, lb: LoadBalancer, t: float) -> tuple[list[Instance], list[Instance]]:
        """(healthy in every listener's group, registered) at t: an NLB sends new connections to the
        healthy targets, or to every registered one when none is healthy (fail open)."""
        groups = self.groups_of(lb)
        if not groups or t < lb.active_at:
            return [], []
        registered = []
        healthy = []
        for instance in self.instances.values():
            states = [self.health(g, instance.id, t)[0] for g in groups]
            # Fail open is to the targets that failed their checks, not to those still in `initial`
            # (NLB guide: "If all targets fail health checks ... fails open"; a target in `initial`
            # has not been checked, and an NLB routes to no target in `initial`).
            if all(s in ("healthy", "unhealthy") for s in states):
                registered.append(instance)
                if all(s == "healthy" for s in states):
                    healthy.append(instance)
        return healthy, registered

    def serving(self, host: str, t: float) -> tuple[int, bool]:
        """(nodes healthy behind the host's load balancer and answering, whether a client's request
        at t succeeds). A single nginx node serves when it answers."""
        target = self.resolve(host, t)
        if target is None:
            return 0, False
        kind, value = target
        if kind == "ip":
            instance = self.instance_at(value)
            ok = instance is not None and instance.answers_at(t)
            return int(ok), ok
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None:
            return 0, False
        healthy, registered = self.routable(lb, t)
        healthy = [i for i in healthy if self.lb_reaches(lb, i, t)]
        registered = [i for i in registered if self.lb_reaches(lb, i, t)]
        answering = [i for i in healthy if i.answers_at(t)]
        # Requests go to the healthy targets, or to every registered one when none is (fail open).
        reached = answering if healthy else [i for i in registered if i.answers_at(t)]
        return len(answering), bool(reached)

    def route(self, host: str) -> Optional[Instance]:
        """The node a new connection to `host` reaches now, if it answers (round robin among the
        targets the load balancer routes to)."""
        target = self.resolve(host)
        if target is None:
            return None
        kind, value = target
        if kind == "ip":
            instance = self.instance_at(value)
            return instance if instance is not None and instance.answers_at(self.now) else None
        lb = next((b for b in self.load_balancers.values() if b.dns_name == value), None)
        if lb is None:
            return None
        healthy, registered = self.routable(lb, self.now)
        candidates = sorted(
            (i for i in (healthy or registered) if self.lb_reaches(lb, i, self.now)), key=lambda i: i.name
        )
        if not candidates:
            return None
        chosen = candidates[next(self._round_robin) % len(candidates)]
        return chosen if chosen.answers_at(self.now) else None

    def change_times(self) -> list[float]:
        """Every instant at which what clients see may change: health checks, registrations,
        Bitbucket and instance state changes."""
        times: set[float] = set()
        for instance in self.instances.values():
            times |= {r.since for r in instance.runs} | {s for s, _ in instance.states}
        for group in self.target_groups.values():
            for regs in group.registrations.values():
                for reg in regs:
                    times.add(reg.registered_at)
                    if reg.deregistered_at is not None:
                        times |= {reg.deregistered_at, reg.deregistered_at + group.deregistration_delay}
        for history in self.dns_history.values():  # a change, and when every cached old answer expired
            previous_ttl = 0.0
            for since, _, ttl in history:
                times |= {since, since + previous_ttl}
                previous_ttl = ttl
        return sorted(times)

    def check_times(self, start: float, end: float) -> list[float]:
        times: set[float] = set()
        for group in self.target_groups.values():
            for regs in group.registrations.values():
                for reg in regs:
                    k = 1
                    while reg.registered_at + k * group.check.interval <= end:
                        at = reg.registered_at + k * group.check.interval
                        if at >= start:
                            times.add(at)
                        k += 1
        return sorted(times)


def _newer(a: str, b: str) -> bool:
    return tuple(int(p) for p in a.split(".")) > tuple(int(p) for p in b.split("."))
