"""The sections of the stack config a site may also set for itself (`mirrors[].network`,
`.monitoring`, `.backup`): the site's own keys replace the stack-wide ones key by key (`sites.py`).
The other models, and the stack as a whole, are in `model.py`; each field's rule is its type
(`constrained.py`).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .constrained import (
    Cidr,
    Email,
    HostOrAddress,
    PemPrivateKey,
    Port,
    PosixUser,
    SnsTopicArn,
    SshPublicKey,
    SubnetId,
    VpcId,
)
from .public_space import BOUND_WORDS


class ConfigModel(BaseModel):
    """The base of every model of the stack config: a change here changes what every key accepts."""

    # Unknown keys are errors (a typo must not silently fall back to a default); keys are the
    # camelCase names of the stack file.
    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
    )


class Bastion(ConfigModel):
    """The jump host every command on a node goes through over SSH (`network.bastion.*`): with one,
    a node needs no public address (README "Node addresses that change"); its host key is pinned."""

    host: HostOrAddress = Field(
        min_length=1, examples=["bastion.example.com"], description="Jump host used to reach the mirror nodes over SSH."
    )
    user: PosixUser = Field(
        "ec2-user", examples=["ec2-user"], description="SSH user on the jump host (a POSIX user name)."
    )
    port: Port = Field(22, examples=[22], description="SSH port of the jump host.")
    private_key: PemPrivateKey = Field(description="Secret: PEM private key for the jump host.")
    host_key: SshPublicKey = Field(
        examples=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA..."],
        description=(
            "The jump host's SSH host public key (e.g. from ssh-keyscan), pinned rather than trusted on first use."
        ),
    )


class Network(ConfigModel):
    """Where the hosts live and who may reach them (`network.*`, or a site's own, key by key): the
    VPC and subnets place the hosts (stack-wide ids name one region's resources), the CIDR lists
    become the security groups' rules, each bounded in public space."""

    vpc_id: Optional[VpcId] = Field(
        None,
        examples=["vpc-0123456789abcdef0"],
        description="VPC for the mirror hosts; default: the region's default VPC.",
    )
    subnet_ids: tuple[SubnetId, ...] = Field(
        (),
        examples=[["subnet-0123456789abcdef0"]],
        description="Subnets for hosts and load balancers; default: the VPC's subnets.",
    )
    client_cidrs: tuple[Cidr, ...] = Field(
        (),
        examples=[["10.0.0.0/8"]],
        description=f"Who may clone over 443 and 7999; default: the VPC's CIDR; {BOUND_WORDS}.",
    )
    admin_cidrs: tuple[Cidr, ...] = Field(
        (),
        examples=[["198.51.100.7/32"]],
        description=f"Who may reach SSH 22 for installation; {BOUND_WORDS}, so never 0.0.0.0/0 or ::/0.",
    )
    bastion: Optional[Bastion] = Field(None, description="Optional jump host for the installation over SSH.")


class Monitoring(ConfigModel):
    """CloudWatch alarms, the topic they notify and its e-mail subscriptions, and the JMX exporter
    on 9404 (`monitoring.*`, or a site's own, key by key); without it nothing is monitored."""

    alarm_topic_arn: Optional[SnsTopicArn] = Field(
        None,
        examples=["arn:aws:sns:eu-central-1:123456789012:bitbucket-alarms"],
        description=(
            "SNS topic (yours, in the site's region) that alarms notify; default: the stack creates one "
            "per region and outputs its ARN."
        ),
    )
    emails: tuple[Email, ...] = Field(
        (),
        examples=[["mirror-oncall@example.com"]],
        description="E-mail addresses subscribed to the topics the stack creates (each confirms once per region).",
    )
    home_used_percent_alarm: int = Field(
        80, ge=1, le=99, examples=[80], description="Alarm when a node's home volume is fuller than this, percent."
    )
    jmx_exporter: bool = Field(
        False,
        examples=[True],
        description=(
            "Run the Prometheus JMX exporter as a Java agent of Bitbucket (pinned, checksum verified) on port 9404."
        ),
    )
    metrics_cidrs: tuple[Cidr, ...] = Field(
        (),
        examples=[["10.9.0.0/16"]],
        description=f"Who may scrape the JMX exporter on 9404; required with jmxExporter; {BOUND_WORDS}.",
    )


class Backup(ConfigModel):
    """Snapshots of each node's home before an upgrade or a rebuild, and how many are kept per node
    (`backup.*`, or a site's own, key by key); `restoreFrom` goes back to one of them."""

    enabled: bool = Field(
        True,
        examples=[True],
        description=(
            "Snapshot each node's home volume (EBS) before a version upgrade or a rebuild, tagged with the "
            "version it holds; a restoreFrom brings them back."
        ),
    )
    keep: int = Field(
        2,
        ge=1,
        le=50,
        examples=[2],
        description="How many snapshots to keep per node; older ones are deleted after each new one.",
    )
