"""One mirror node: an EC2 instance with IMDSv2 and encrypted disks, its own encrypted gp3 home
volume, and a pinned SSH host key. The installation itself is `install.py`'s job.

The home volume is a resource of its own, attached to the instance: replacing the instance (a new
AMI, another type) keeps the home and its repositories.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls

from facts import types
from facts.hosts import ROOT_VOLUME_GB

from . import boot
from . import tags as tagging

HOME_DEVICE = "/dev/sdf"
LOGIN_USER = {"al2023": "ec2-user", "ubuntu": "ubuntu"}


@dataclass(frozen=True)
class MirrorHostArgs:
    """What one node (components/host.py MirrorHost) is built from: its instance, home volume, role
    and host key. The site decides it per node (components/site_plan.py)."""

    # The AWS region of every resource of the node: a new one replaces the node.
    region: str
    # The image the instance launches from; changes are ignored on a running instance (osImage
    # replaces its root volume instead: RootVolumeReplacement).
    ami_id: pulumi.Input[str]
    # mirrors[].os (al2023, ubuntu): the login user and the packages the boot installs.
    os: str
    # mirrors[].instanceType: a new one stops and starts the instance (in its drain: InstanceModification).
    instance_type: str
    # The subnet (and so the availability zone) of the instance and its home: a new one replaces both.
    subnet_id: pulumi.Input[str]
    # The nodes' security group (MirrorNetwork.node_security_group_id).
    security_group_id: pulumi.Input[str]
    # The site's EC2 key pair: the operators' SSH login for the install.
    key_name: pulumi.Input[str]
    # mirrors[].homeVolumeGb: the home volume's size; a larger one grows it in place.
    home_volume_gb: int
    # Whether the instance gets a public address (the install reaches it there, or nginx serves it).
    public_address: bool
    # The stack: the node's host key parameter's path and its tags are scoped by it.
    stack: str
    # The site's tags, on every resource of the node (each with its own Name).
    tags: dict[str, str] = field(default_factory=dict)
    # A farm node: the instance carries this (key, value) tag, by which the farm's other nodes
    # discover it, and its role may list the region's instances to find them.
    farm_tag: Optional[tuple[str, str]] = None
    # What must happen before the instance changes (a node leaving its load balancer first).
    instance_wait_for: Sequence[pulumi.Resource] = ()
    # mirrors[].restoreFrom: the snapshot the home is created from (components/restore.py).
    home_snapshot_id: Optional[pulumi.Input[Optional[str]]] = None
    # kmsKeyArn: the customer-managed key of the volumes and the host key parameter (None: AWS's).
    kms_key_arn: Optional[str] = None
    # iamPermissionsBoundaryArn: what the node's role can never exceed, whatever policy it is given.
    permissions_boundary: Optional[str] = None


def host_key_parameter(stack: str, node: str) -> str:
    """The SSM parameter that holds a node's SSH host key (its user data names it)."""
    return f"/bitbucket-mirrors/{stack}/{node}/ssh-host-ed25519-key"


def user_data_digest(stack: str, node: str) -> str:
    """What a node boots with, as a digest: a new one makes EC2 stop and start the instance."""
    return hashlib.sha256(boot.user_data(host_key_parameter(stack, node)).encode()).hexdigest()


# What the SSM agent needs for Session Manager and nothing more: the actions of AWS's own managed
# policy AWSCloud9SSMInstanceProfile. Not AmazonSSMManagedInstanceCore: it allows ssm:GetParameter on
# every parameter, and a node's role must read no SSM parameter but its own host key.
SESSION_MANAGER_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "Resource": "*",
            }
        ],
    }
)


def host_key_policy(parameter_arn: str, region: str, kms_key_arn: Optional[str]) -> str:
    """ssm:GetParameter on the node's own parameter; with a customer-managed key, kms:Decrypt of
    that parameter only: through SSM (kms:ViaService) and for its ARN (SSM's encryption context,
    PARAMETER_ARN). An alias ARN is not what KMS authorizes against, so then the key is any key."""
    statements = [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter_arn}]
    if kms_key_arn:
        statements.append(
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "*" if ":alias/" in kms_key_arn else kms_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"ssm.{region}.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": parameter_arn,
                    }
                },
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def session_command(instance_id: str, region: str) -> str:
    """How an admin reaches the node's shell (README, Troubleshooting)."""
    return f"aws ssm start-session --target {instance_id} --region {region}"


def discovery_policy(region: str) -> str:
    """What Hazelcast's AWS discovery calls: ec2:DescribeInstances (which takes no resource ARNs),
    held to the node's own region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "ec2:DescribeInstances",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"ec2:Region": region}},
                }
            ],
        }
    )


class MirrorHost(pulumi.ComponentResource):
    """One node of a site: its instance, home volume and attachment, role, and SSH host key (kept in
    SSM, read at first boot, so the key the install pins is known before the node boots). A new
    subnet, KMS key or restore replaces its home; a new instance type or boot configuration stops and
    starts the instance (the rollout drains the node first); a new AMI lookup changes nothing."""

    instance_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    address: pulumi.Output[str]  # where the installer connects (public when it has one)
    host_key: pulumi.Output[str]  # the SSH host public key to pin
    home_volume_id: pulumi.Output[str]
    home_volume_size: pulumi.Output[int]
    home_attachment: aws.ec2.VolumeAttachment  # what the node's retire and install wait on
    home_zone: pulumi.Output[str]  # what gives the node a new, empty home (below)
    image: pulumi.Input[str]  # the current image of the node's OS (the lookup, not the launch)
    user_data: str  # what it boots with (a change is made by its InstanceModification)
    session: pulumi.Output[str]  # the Session Manager command for a shell on the node
    role_id: pulumi.Output[str]
    role_name: pulumi.Output[str]
    node_name: str
    login_user: str

    def __init__(self, name: str, args: MirrorHostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.HOST, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.named(args.tags, name)

        host_key = tls.PrivateKey(f"{name}-host-key", algorithm="ED25519", opts=child)
        parameter = aws.ssm.Parameter(
            f"{name}-host-key",
            name=host_key_parameter(args.stack, name),
            type="SecureString",
            value=host_key.private_key_openssh,
            region=args.region,
            key_id=args.kms_key_arn,
            description=f"SSH host key of Bitbucket mirror node {name}",
            tags=tags,
            opts=child,
        )
        profile, policy, role = self._instance_profile(name, parameter, tags, args)
        self.user_data = boot.user_data(host_key_parameter(args.stack, name))

        instance = self._instance(name, args, profile, [parameter, policy], tags)
        home, attachment = self._home(name, args, instance, tags)

        self.home_attachment = attachment
        self.image = args.ami_id
        # A shell on the node without SSH keys or open ports: AWS Systems Manager Session Manager.
        aws.iam.RolePolicy(f"{name}-session-manager", role=role.id, policy=SESSION_MANAGER_POLICY, opts=child)
        self.session = instance.id.apply(lambda i: session_command(i, args.region))
        self.instance_id = instance.id
        self.private_ip = instance.private_ip
        self.address = instance.public_ip if args.public_address else instance.private_ip
        self.host_key = host_key.public_key_openssh
        self.home_volume_id = home.id
        self.home_volume_size = home.size
        # What gives the node a new, empty home other than a restore: another zone (a volume cannot
        # follow its instance there). Known at preview, unlike a new volume's id: the approval
        # follows it, as a new empty home is a new mirror, while a restored home keeps its mirror.
        # Another KMS key gives new, empty volumes as well.
        zone = aws.ec2.get_subnet_output(
            id=args.subnet_id, region=args.region, opts=pulumi.InvokeOptions(parent=self)
        ).availability_zone
        self.home_zone = zone.apply(lambda z: f"{z}|{args.kms_key_arn}" if args.kms_key_arn else z)
        self.node_name = name
        self.login_user = LOGIN_USER[args.os]
        self.role_id = role.id  # more statements attach here (monitoring) without touching the instance
        if args.farm_tag is not None:
            aws.iam.RolePolicy(f"{name}-discover-farm", role=role.id, policy=discovery_policy(args.region), opts=child)
        self.role_name = role.name
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "private_ip": self.private_ip,
                "address": self.address,
                "host_key": self.host_key,
                "home_volume_id": self.home_volume_id,
                "home_volume_size": self.home_volume_size,
                "home_zone": self.home_zone,
                "session": self.session,
                "role_name": self.role_name,
            }
        )

    def _instance(
        self,
        name: str,
        args: MirrorHostArgs,
        profile: aws.iam.InstanceProfile,
        boot_needs: Sequence[pulumi.Resource],
        tags: dict[str, str],
    ) -> aws.ec2.Instance:
        """The node's instance: IMDSv2 only, an encrypted root volume, the boot configuration."""
        return aws.ec2.Instance(
            f"{name}-instance",
            ami=args.ami_id,
            instance_type=args.instance_type,
            region=args.region,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[args.security_group_id],
            key_name=args.key_name,
            iam_instance_profile=profile.name,
            associate_public_ip_address=args.public_address,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_tokens="required", http_put_response_hop_limit=1, http_endpoint="enabled"
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3",
                volume_size=ROOT_VOLUME_GB,
                encrypted=True,
                delete_on_termination=True,
                kms_key_id=args.kms_key_arn,
            ),
            # A new boot configuration (a new release of this project) is applied by stopping and
            # starting the instance, not by replacing it: cloud-init runs bootcmd on every boot.
            user_data=self.user_data,
            user_data_replace_on_change=False,
            tags={**tags, **dict([args.farm_tag])} if args.farm_tag else tags,
            volume_tags=tags,
            # The AMI lookup moves with every release; a new AMI must not replace a running mirror.
            # A new type or user data would make pulumi-aws stop and start the instance before the
            # rollout's preflights: the node's InstanceModification does it inside its one drain.
            # It reads its host key at first boot: the key and the permission must exist by then.
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=["ami", "instanceType", "userData"],
                depends_on=[*boot_needs, *args.instance_wait_for],
            ),
        )

    def _home(
        self, name: str, args: MirrorHostArgs, instance: aws.ec2.Instance, tags: dict[str, str]
    ) -> tuple[aws.ebs.Volume, aws.ec2.VolumeAttachment]:
        """The node's home: its own encrypted volume (from a snapshot when restored), attached."""
        child = pulumi.ResourceOptions(parent=self)
        home = aws.ebs.Volume(
            f"{name}-home",
            availability_zone=instance.availability_zone,
            size=args.home_volume_gb,
            type="gp3",
            encrypted=True,
            kms_key_id=args.kms_key_arn,
            tags=tagging.named(tags, f"{name}-home"),
            region=args.region,
            snapshot_id=args.home_snapshot_id,
            opts=child,
        )
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-home",
            device_name=HOME_DEVICE,
            volume_id=home.id,
            instance_id=instance.id,
            # Not stopped to detach: terraform-provider-aws never starts it again. The node's retire
            # command (components/rollout.py) stops Bitbucket and unmounts the home first.
            stop_instance_before_detaching=False,
            region=args.region,
            # The device name is taken until the old home is detached: detach first, then attach.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return home, attachment

    def _instance_profile(
        self, name: str, parameter: aws.ssm.Parameter, tags: dict[str, str], args: MirrorHostArgs
    ) -> tuple[aws.iam.InstanceProfile, aws.iam.RolePolicy, aws.iam.Role]:
        """A role that can read this node's host key parameter and nothing else (and, with a
        customer-managed key, decrypt that one parameter through SSM)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            tags=tags,
            permissions_boundary=args.permissions_boundary,
            opts=child,
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}
                    ],
                }
            ),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-read-host-key",
            role=role.id,
            opts=child,
            policy=parameter.arn.apply(lambda arn: host_key_policy(arn, args.region, args.kms_key_arn)),
        )
        return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child), policy, role
