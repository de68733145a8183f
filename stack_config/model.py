"""The stack config contract (README "Config reference") as typed, frozen models.

Field-level rules live here, next to the field they guard; rules that compare fields or mirrors
with each other live in `rules.py`. Every field carries a description: the README's config
reference table is generated from them (`stack_config.reference`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from facts.bitbucket import MIN_MAJOR, VERSION, is_project_key
from facts.urls import is_hostname

from .certificates import pem_certificates
from .public_space import BOUND_WORDS
from .regions import did_you_mean, unknown_region_problem
from .shown import control_characters, shown, shown_url
from .ssh_keys import ssh_public_key_problem
from .urls import https_url

DEFAULT_BITBUCKET_VERSION = "9.4.16"
MIRROR_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# Bitbucket's own rule for project keys: a letter first, then letters, digits or underscores.


def _https_url(value: str, credentials_hint: str = "") -> str:
    https_url(value, credentials_hint)
    return value


def _primary_url(value: str) -> str:
    return _https_url(value, "Give the user as primary.username and its password as the secret primaryPassword.")


def _installer_url(value: str) -> str:
    return _https_url(value, "Serve the archive from a URL that needs no credentials (the sha256 protects it).")


def _mirror_base_url(value: str) -> str:
    parts = https_url(value, "A mirror's base URL names only the host clients clone from.")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"expected https://<host> with no path (the mirror is served at the host's root), got {shown_url(value)}"
        )
    if parts.port not in (None, 443):
        raise ValueError(
            f"expected https://<host> on port 443 (the load balancer or nginx listens there), got {shown_url(value)}"
        )
    return value


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected a CIDR such as 203.0.113.10/32, got {shown(value)} ({exc})") from None
    return str(network)


def _ca_bundle(value: str) -> str:
    pem_certificates(value, "the CA certificates that signed the primary's certificate")
    return value


def _certificate_chain(value: str) -> str:
    pem_certificates(value, "the certificate chain for the base URL's host (the server's certificate first)")
    return value


def _pem_private_key(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    begin = re.search(r"-----BEGIN ((?:[A-Z]+ )?PRIVATE KEY)-----", text)
    if begin and not re.search(rf"-----BEGIN {begin.group(1)}-----\s*\S.*?-----END {begin.group(1)}-----", text, re.S):
        raise ValueError(
            f"expected a whole PEM private key: the -----BEGIN {begin.group(1)}----- line has no key text "
            f"and -----END {begin.group(1)}----- line after it (truncated when pasted?); the value is not shown"
        )
    if not begin:
        # Never echo the value: it is key material. Say what it looks like when it is a public
        # thing pasted into the wrong key (keys swapped), which is the usual mistake.
        if SSH_PUBLIC_KEY.match(text.strip()):
            looks = "got an SSH public key line, not a private key (swapped with hostKey?)"
        elif "-----BEGIN CERTIFICATE-----" in text:
            looks = "got a certificate, not its private key (swapped with tls.certificate?)"
        else:
            looks = "the value is not shown"
        raise ValueError(f"expected a PEM private key (-----BEGIN ... PRIVATE KEY-----); {looks}")
    return value


SSH_PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$")
MAX_DISPLAY_NAME = 255  # this project's limit: a name shown in Bitbucket's UI, not a paragraph


def _display_name(value: str) -> str:
    if not value:
        raise ValueError("expected a name to show in Bitbucket; leave the key out to use the mirror's name")
    bad = control_characters(value)
    if bad:
        raise ValueError(
            f"expected one line of text without control or format characters (found {', '.join(bad)}; a bidi "
            "override or a zero-width character makes the name read differently than it is); it becomes "
            "setup.displayName in bitbucket.properties"
        )
    if len(value) > MAX_DISPLAY_NAME:
        raise ValueError(f"expected at most {MAX_DISPLAY_NAME} characters, got {len(value)}")
    return value


def _username(value: str) -> str:
    bad = control_characters(value)
    if ":" in value or bad:
        found = f" (found {', '.join(bad)})" if bad else ""
        raise ValueError(
            f"expected a Bitbucket user name without ':' or control characters{found} "
            "(HTTP basic authentication cannot carry them; format characters hide what the name is)"
        )
    if not basic_auth_can_carry(value):
        raise ValueError(
            "expected a Bitbucket user name in Latin-1 characters (HTTP basic authentication, as the "
            "providers send it, cannot carry others)"
        )
    return value


# POSIX's portable user names (the portable filename characters, not starting with '-'), at most 32
# characters as useradd allows: the name goes into ssh's command line and the known_hosts lookup.
POSIX_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$")


def _posix_user(value: str) -> str:
    if not POSIX_USER.match(value):
        raise ValueError(
            "expected a POSIX user name: letters, digits, '.', '_' or '-', starting with a letter or '_', at "
            f"most 32 characters (e.g. ec2-user), got {shown(value)}"
        )
    return value


def _ssh_public_key(value: str) -> str:
    problem = ssh_public_key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def basic_auth_can_carry(value: str) -> bool:
    """requests encodes basic-auth credentials as Latin-1: anything else fails at the first call."""
    return all(ord(c) <= 0xFF for c in value)


def _host_or_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not is_hostname(value.lower()):
        raise ValueError(f"expected a host name or IP address, got {shown(value)}")
    return value


def _supported_version(value: str) -> str:
    if int(value.split(".")[0]) < MIN_MAJOR:
        raise ValueError(
            f"expected Bitbucket {MIN_MAJOR}.0 or newer (the mirror-side REST API this tool "
            f"drives, syncSettings, exists from 9.0 on), got {shown(value)}"
        )
    return value


def _project_key(value: str) -> str:
    if not is_project_key(value):
        raise ValueError(
            f"{shown(value)} is not a Bitbucket project key: a letter first, then letters, digits or underscores, "
            "at most 128 characters (e.g. PLAT)"
        )
    return value.upper()


def _mirror_name(value: str) -> str:
    if not MIRROR_NAME.match(value):
        raise ValueError(
            f"{shown(value)} is not a valid mirror name: expected ^[a-z][a-z0-9-]{{1,30}}$ "
            "(lower-case, starts with a letter, e.g. syd; it names AWS resources and stack outputs)"
        )
    return value


def _regex(pattern: str, expected: str):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"expected {expected}, got {shown(value)}")
        return value

    return check


SshPublicKey = Annotated[str, AfterValidator(_ssh_public_key)]
PosixUser = Annotated[str, AfterValidator(_posix_user)]
PrimaryUrl = Annotated[str, AfterValidator(_primary_url)]
InstallerUrl = Annotated[str, AfterValidator(_installer_url)]
DisplayName = Annotated[str, AfterValidator(_display_name)]
Username = Annotated[str, AfterValidator(_username)]
HostOrAddress = Annotated[str, AfterValidator(_host_or_address)]
MirrorBaseUrl = Annotated[str, AfterValidator(_mirror_base_url)]
Cidr = Annotated[str, AfterValidator(_cidr)]
CaBundle = Annotated[str, AfterValidator(_ca_bundle)]
CertificateChain = Annotated[str, AfterValidator(_certificate_chain)]
PemPrivateKey = Annotated[SecretStr, AfterValidator(_pem_private_key)]
ProjectKey = Annotated[str, AfterValidator(_project_key)]
MirrorName = Annotated[str, AfterValidator(_mirror_name)]
Port = Annotated[int, Field(ge=1, le=65535)]
VpcId = Annotated[str, AfterValidator(_regex(r"^vpc-[0-9a-f]{8,17}$", "a VPC id such as vpc-0123456789abcdef0"))]
SubnetId = Annotated[
    str, AfterValidator(_regex(r"^subnet-[0-9a-f]{8,17}$", "a subnet id such as subnet-0123456789abcdef0"))
]
HostedZoneId = Annotated[
    str, AfterValidator(_regex(r"^Z[0-9A-Z]{4,31}$", "a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ"))
]
CertificateArn = Annotated[
    str,
    AfterValidator(
        _regex(
            r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
            "an ACM certificate ARN such as arn:aws:acm:ap-southeast-2:123456789012:certificate/...",
        )
    ),
]
KmsKeyArn = Annotated[
    str,
    AfterValidator(
        _regex(
            r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250})$",
            "a KMS key ARN such as arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789 "
            "(or an alias ARN)",
        )
    ),
]
# A customer-managed policy of the account (IAM's path and name characters): the node roles' boundary.
IamPolicyArn = Annotated[
    str,
    AfterValidator(
        _regex(
            r"^arn:aws[a-z-]*:iam::\d{12}:policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$",
            "an IAM policy ARN of your account such as "
            "arn:aws:iam::123456789012:policy/bitbucket-mirrors-node-boundary",
        )
    ),
]
Version = Annotated[
    str,
    AfterValidator(_regex(VERSION.pattern, "a Bitbucket version MAJOR.MINOR.PATCH such as 9.4.16")),
    AfterValidator(_supported_version),
]
# The region names of AWS's partitions (botocore's endpoints.json `regionRegex`, a test keeps them in step).
REGION_PATTERN = (
    r"^(?:(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+|us-gov-[a-z]+|us-iso[bef]?-[a-z]+|eu-isoe-[a-z]+"
    r"|eusc-de-[a-z]+)-\d+$"
)
_REGION = re.compile(REGION_PATTERN)


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"expected an AWS region name such as eu-central-1, got {shown(value)}: {did_you_mean(value)}")
    problem = unknown_region_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Region = Annotated[str, AfterValidator(_region)]


def _os_image(value: str) -> str:
    # A label (any change moves the nodes to the current image) or an AMI id; one line, short: it
    # is an input the rollout compares and shows at preview.
    if value.startswith("ami-"):
        return _regex(r"^ami-[0-9a-f]{8,17}$", "an AMI id such as ami-0123456789abcdef0")(value)
    bad = control_characters(value)
    if not value.strip() or len(value) > 64 or bad:
        found = f" (found {', '.join(bad)})" if bad else ""
        raise ValueError(
            f"expected a label of at most 64 printable characters (e.g. 'refresh: 2026-12') or an "
            f"AMI id, got {shown(value)}{found}"
        )
    return value


OsImage = Annotated[str, AfterValidator(_os_image)]
Sha256 = Annotated[str, AfterValidator(_regex(r"^[0-9a-f]{64}$", "a sha256 hex digest (64 lower-case hex digits)"))]


def _at_least_one_mirror(value: tuple) -> tuple:
    # An after-validator rather than min_length: pydantic reports min_length also when an
    # item merely failed, which would add a false "no mirrors" line to real problems.
    if not value:
        raise ValueError("expected at least one mirror entry (name, baseUrl, ...)")
    return value


class _Model(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); keys are the
    # camelCase names of the stack file.
    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
    )


class Primary(_Model):
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


class Bastion(_Model):
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


class Network(_Model):
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


class Installer(_Model):
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


class Tls(_Model):
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


SnsTopicArn = Annotated[
    str,
    AfterValidator(
        _regex(
            r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$",
            "an SNS topic ARN such as arn:aws:sns:eu-central-1:123456789012:bitbucket-alarms",
        )
    ),
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    # The address goes to SNS as is: a format character in it is one that cannot be seen.
    if not _EMAIL.match(value) or control_characters(value):
        raise ValueError(f"expected an e-mail address, got {shown(value)}")
    return value


Email = Annotated[str, AfterValidator(_email)]


class Monitoring(_Model):
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


class Backup(_Model):
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


class Mirror(_Model):
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
        "m6i.xlarge", examples=["m6i.xlarge"], description="EC2 instance type; smaller than 2 vCPU / 8 GiB is refused."
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


class StackModel(_Model):
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
