"""What the twin's world holds: its instances (with their root disks and Bitbucket runs), EBS volumes
and the Bitbucket homes on them, target groups with their registrations and health checks, load
balancers; the fixed addresses outside the VPCs, and the error an AWS call or a node fails with.
twin/world.py's World keeps them; its parts (world_ec2, world_ebs, ...) change them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

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
    """An EC2 instance: its launch settings, its states over time, its addresses, its root disk and
    Bitbucket's runs on it."""

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
    """An EBS volume: its zone and size, where it is attached, and the Bitbucket home it holds."""

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
    """A target's registration in a target group: when it was registered, and when deregistered."""

    registered_at: float
    deregistered_at: Optional[float] = None


@dataclass
class HealthCheck:
    """A target group's health check: how often, the thresholds, and what it asks a target."""

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
    """A target group: its port, health check, deregistration delay, and each target's registrations."""

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
    """A network load balancer: its name in DNS, when it is active, its listeners and security groups."""

    arn: str
    dns_name: str
    region: str
    active_at: float
    listeners: dict[int, str] = field(default_factory=dict)  # port -> target group arn
    security_groups: tuple[str, ...] = ()
    address: str = "10.0.255.10"  # its nodes' private address: where health checks come from
