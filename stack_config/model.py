"""The stack config contract (README "Config reference") as typed, frozen models.

Each field's own rule is its type (`constrained.py`); the sections a site may also set for itself
(network, monitoring, backup) are in `sections.py`; rules that compare fields or mirrors with each
other live in `rules.py`. Every field carries a description: the README's config
reference table is generated from them (`stack_config.reference`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field

from .constrained import REGION_PATTERN as REGION_PATTERN  # components/host_files/specs.py reads it here
from .constrained import (
    CaBundle,
    CertificateArn,
    CertificateChain,
    Cidr,
    DisplayName,
    HostedZoneId,
    IamPolicyArn,
    InstallerUrl,
    KmsKeyArn,
    MirrorBaseUrl,
    MirrorName,
    OsImage,
    PemPrivateKey,
    Port,
    PrimaryUrl,
    ProjectKey,
    Region,
    Sha256,
    Username,
    Version,
)
from .public_space import BOUND_WORDS

# The sections a site may also set for itself; Bastion is imported from here too (stack_config.Bastion).
from .sections import Backup, ConfigModel, Monitoring, Network
from .sections import Bastion as Bastion

DEFAULT_BITBUCKET_VERSION = "9.4.16"


def _at_least_one_mirror(value: tuple) -> tuple:
    # An after-validator rather than min_length: pydantic reports min_length also when an
    # item merely failed, which would add a false "no mirrors" line to real problems.
    if not value:
        raise ValueError("expected at least one mirror entry (name, baseUrl, ...)")
    return value


class Primary(ConfigModel):
    """The primary Bitbucket the mirrors serve (`primary.*`): the providers call it as this user
    to approve each mirror and select its projects, and the nodes sync from it over SSH. primary.url
    is a setup key: a change makes a new mirror of every site (README "Operating a farm")."""

    url: PrimaryUrl = Field(
        examples=["https://bitbucket.example.com"],
        description="HTTPS URL of the primary Bitbucket Data Center instance.",
    )
    username: Username = Field(
        min_length=1,
        examples=["mirror-admin"],
        description="A user with SYS_ADMIN on the primary (approves the mirror, selects projects).",
    )
    ssh_port: Port = Field(7999, examples=[7999], description="The primary's SSH port; mirrors sync over SSH.")
    cidrs: tuple[Cidr, ...] = Field(
        (),
        examples=[["203.0.113.10/32"]],
        description=f"The primary's egress addresses, allowed to reach mirrors on 443; {BOUND_WORDS}.",
    )
    ca_bundle: Optional[CaBundle] = Field(
        None,
        examples=["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"],
        description=(
            "PEM CA certificates to trust for a privately signed primary (providers and the mirror's JVM); "
            "each is read as a certificate at preview."
        ),
    )


class Installer(ConfigModel):
    """Where the nodes download Bitbucket's archive, and the sha256 it must have
    (`mirrors[].installer.*`): read by every install (a new node, an upgrade, a new OS image)."""

    url: InstallerUrl = Field(
        examples=["https://artifacts.internal.example.com/atlassian-bitbucket-9.4.16.tar.gz"],
        description=(
            "Where to download atlassian-bitbucket-<version>.tar.gz (an internal mirror for air-gapped networks)."
        ),
    )
    sha256: Optional[Sha256] = Field(
        None,
        examples=["0123456789abcdef" * 4],
        description=(
            "Expected sha256 of the archive; the install refuses a mismatch. Without it the archive is "
            "checked against the MD5 in the vendor's download feeds, and nothing is installed when they "
            "cannot be read."
        ),
    )


class Tls(ConfigModel):
    """How a site terminates HTTPS (`mirrors[].tls.*`): 'acm', a certificate on a network load
    balancer (any number of nodes), or 'nginx' on the single node with the certificate given here.
    The mode decides whether the site has a load balancer."""

    mode: Literal["acm", "nginx"] = Field(
        "acm",
        examples=["acm"],
        description="acm: ACM certificate on a network load balancer; nginx: nginx on the host terminates TLS.",
    )
    hosted_zone_id: Optional[HostedZoneId] = Field(
        None,
        examples=["Z0123456789ABCDEFGHIJ"],
        description="Route53 zone for certificate validation and the DNS record of the base URL.",
    )
    certificate_arn: Optional[CertificateArn] = Field(
        None,
        examples=["arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-..."],
        description="acm: use this existing ACM certificate instead of requesting one.",
    )
    certificate: Optional[CertificateChain] = Field(
        None,
        examples=["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"],
        description=(
            "nginx: PEM certificate chain for the base URL's host (the server's certificate first, naming that host)."
        ),
    )
    private_key: Optional[PemPrivateKey] = Field(
        None, description="nginx, secret: PEM private key of that certificate."
    )


class Mirror(ConfigModel):
    """One mirror site (`mirrors[]`): its name, URL, version, size, placement and what it mirrors.
    The setup keys (displayName, baseUrl) make a new mirror when they change; README "Operating a
    farm" says what each other change does to the site and its clients."""

    name: MirrorName = Field(
        examples=["syd"],
        description=(
            "Unique name, ^[a-z][a-z0-9-]{1,30}$ (at most 18 characters with tls.mode acm: AWS limits the "
            "load balancer's names); prefixes AWS resources and stack outputs."
        ),
    )
    display_name: Optional[DisplayName] = Field(
        None,
        examples=["Sydney mirror"],
        description=(
            "Name shown in Bitbucket (one line, at most 255 characters); default: name. A setup key: a "
            "change replaces the mirror."
        ),
    )
    base_url: MirrorBaseUrl = Field(
        examples=["https://mirror-syd.example.com"],
        description="The mirror's public https URL. A setup key: a change replaces the mirror.",
    )
    bitbucket_version: Version = Field(
        DEFAULT_BITBUCKET_VERSION,
        examples=[DEFAULT_BITBUCKET_VERSION],
        description="Bitbucket Data Center version to install (9.x or newer).",
    )
    nodes: int = Field(
        1, ge=1, examples=[3], description="Number of nodes; more than 1 is a mirror farm (needs tls.mode acm)."
    )
    instance_type: str = Field(
        "m6i.xlarge",
        examples=["m6i.xlarge"],
        description=(
            "EC2 instance type; smaller than 2 vCPU / 8 GiB is refused. Changed in place, node by node: "
            "another CPU architecture (x86_64, arm64) is refused."
        ),
    )
    home_volume_gb: int = Field(
        100, ge=20, le=16384, examples=[200], description="Size of each node's encrypted gp3 home volume, GiB."
    )
    os: Literal["al2023", "ubuntu"] = Field(
        "al2023",
        examples=["al2023"],
        description="Host OS: Amazon Linux 2023 or Ubuntu 24.04 LTS (current AMI looked up).",
    )
    installer: Optional[Installer] = Field(
        None, description="Optional: download the archive from an internal URL, with its sha256."
    )
    tls: Tls = Field(Tls(), description="How HTTPS is terminated; see tls.* keys.")
    projects: tuple[ProjectKey, ...] = Field(
        (), examples=[["PLAT", "OPS"]], description="Project keys to mirror (upper-cased); or use mirrorAll."
    )
    mirror_all: bool = Field(
        False, examples=[True], description="Mirror every project. Irreversible: going back means replacing the mirror."
    )
    wait_for_sync: bool = Field(
        True, examples=[False], description="pulumi up waits until the selected repositories report synced."
    )
    sync_timeout_s: int = Field(
        3600,
        ge=60,
        le=7 * 24 * 3600,
        examples=[14400],
        description=(
            "How long pulumi up waits for that, seconds (the first sync of a large mirror takes hours); at "
            "the end it fails naming this key, the mirror goes on synchronising."
        ),
    )
    approval_timeout_s: int = Field(
        1800,
        ge=60,
        examples=[1800],
        description="How long to wait for the mirror's request to appear on the primary, seconds.",
    )
    region: Optional[Region] = Field(
        None,
        examples=["eu-central-1"],
        description=(
            "AWS region of this site (EC2, EBS, load balancer, ACM, SSM); default: the stack's aws:region. "
            "A change moves the site: a new mirror is approved, the old one removed."
        ),
    )
    network: Optional[Network] = Field(
        None,
        description=(
            "This site's network: keys given here replace the stack-wide network keys, the others are "
            "inherited; see network.* keys."
        ),
    )
    monitoring: Optional[Monitoring] = Field(
        None,
        description=(
            "This site's monitoring: keys given here replace the stack-wide monitoring keys; see monitoring.* keys."
        ),
    )
    backup: Optional[Backup] = Field(
        None,
        description=(
            "This site's home snapshots: keys given here replace the stack-wide backup keys; see backup.* keys."
        ),
    )
    kms_key_arn: Optional[KmsKeyArn] = Field(
        None,
        examples=["arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"],
        description=(
            "This site's customer-managed KMS key (in the site's region) for its root and home volumes, "
            "snapshots and SSM parameters; default: the stack-wide kmsKeyArn, else AWS's managed keys. Set "
            "it before the site's first up: a change replaces every volume (a new, empty mirror)."
        ),
    )
    restore_from: Optional[Version] = Field(
        None,
        examples=["9.4.16"],
        description=(
            "Go back to this version (it must equal bitbucketVersion) by creating every node's home from "
            "its newest snapshot of it; all nodes at once. Remove it before the next upgrade."
        ),
    )
    os_image: Optional[OsImage] = Field(
        None,
        examples=["refresh: 2026-12", "ami-0123456789abcdef0"],
        description=(
            "Change it to move every node onto a newer OS image, one node at a time (its root volume "
            "replaced, its instance, addresses and home kept): any new label takes the current image, an "
            "ami-... id pins one. Unset: nodes keep the image they were launched with."
        ),
    )

    @property
    def effective_display_name(self) -> str:
        return self.display_name or self.name


class StackModel(ConfigModel):
    """The whole stack config as the user writes it (README "Config reference"): the primary, the
    stack-wide defaults each site inherits, and the mirrors. The README's table is generated from
    these fields, so a change here changes that table (`python -m stack_config.readme_sync`)."""

    primary: Primary = Field(description="The primary instance; see primary.* keys.")
    network: Network = Field(Network(), description="Where the hosts live and who may reach them; see network.* keys.")
    monitoring: Optional[Monitoring] = Field(
        None,
        description=(
            "CloudWatch alarms, automatic recovery and metrics for every site; see monitoring.* keys. "
            "Without it, nothing is monitored."
        ),
    )
    backup: Backup = Field(
        Backup(),
        description="Home snapshots before upgrades and rebuilds for every site (on by default); see backup.* keys.",
    )
    kms_key_arn: Optional[KmsKeyArn] = Field(
        None,
        examples=["arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"],
        description=(
            "Customer-managed KMS key for every site's volumes, snapshots and SSM parameters (README: the "
            "key policy it needs); a key is regional, so sites elsewhere set mirrors[].kmsKeyArn. Default: "
            "AWS's managed keys (aws/ebs, aws/ssm)."
        ),
    )
    iam_permissions_boundary_arn: Optional[IamPolicyArn] = Field(
        None,
        examples=["arn:aws:iam::123456789012:policy/bitbucket-mirrors-node-boundary"],
        description=(
            "The managed policy set as permissions boundary on every IAM role the stack creates (the node "
            "roles); an account admin creates it once from docs/node-permissions-boundary.json. Required "
            "when pulumi up runs with docs/deployer-policy*.json, which creates no role without it. "
            "Default: no boundary."
        ),
    )
    mirrors: Annotated[tuple[Mirror, ...], AfterValidator(_at_least_one_mirror)] = Field(
        description="One entry per mirror site; see mirrors[].* keys."
    )
