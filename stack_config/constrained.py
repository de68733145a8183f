"""The constrained values of the stack config (README "Config reference"): each type checks one
field's value and says, in its error, what was expected, never echoing a secret.

The models (`model.py`) are built from these types; a change here changes what every key of that
type accepts, and the message a user reads when a value is refused.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from facts.bitbucket import MIN_MAJOR, VERSION, is_project_key
from facts.text import control_characters
from facts.urls import is_hostname

from .certificates import pem_certificates
from .regions import did_you_mean, unknown_region_problem
from .shown import shown, shown_url
from .ssh_keys import ssh_public_key_problem
from .urls import https_url

MIRROR_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


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
