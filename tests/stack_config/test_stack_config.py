"""The stack config contract (README "Config reference"): defaults, and every refusal with its key path."""

from __future__ import annotations

import copy
import json
from typing import Any, Optional

import pytest
from pydantic import ValidationError

from stack_config import ConfigError, StackConfig, load_stack_config, secret_output
from tests.certificates import self_signed
from tests.harness import in_runtime

PEM_CERT = self_signed("mirror-syd.example.com", "mirror-syd.example.com")  # BASE's base URL host
# Real public keys (made with cryptography for these tests; no private half kept): host keys are
# read as keys, so a made-up base64 would be refused.
BASTION_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIUGUsaPXAxPP7UZGQtLOrEp9VS97mEboyfXkw6HRTcD"
ECDSA_256_HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNtL45jp41VoJNHbJYJtpvQU8fyN3cg407CrACLD"
    "PBrdKTYcQmZxCU6U8OD/0QBuOMpXl6b6tBNSvUl9y4g0bDE="
)
ECDSA_521_HOST_KEY = (
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAE6KjWVdJszEIjtsrsbLp2nG3ZfevTnfgSeln7IE"
    "ezATwseYmXGc7qWmcDIRSHfR2op2KdgFB77ypPHOQZdPma0ZwHbxBQnq8arkiLhWLKhCGaguzQoZfKiH6X3PFD2y7h23q7pf3GJSj06/6zV88haf/"
    "YSZ4bEGlWdKt0iTl7zPirTOw=="
)
STACK_REGION = "ap-southeast-2"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nsuper-secret-key-material\n-----END PRIVATE KEY-----\n"

BASE: dict[str, Any] = {
    "primary": {"url": "https://bitbucket.example.com", "username": "mirror-admin"},
    "mirrors": [
        {"name": "syd", "baseUrl": "https://mirror-syd.example.com", "tls": {"hostedZoneId": "Z0123456789ABCDEFGHIJ"}}
    ],
}


def load(
    raw: dict[str, Any],
    password: Optional[str] = "pw",
    extra: Optional[dict[str, Optional[str]]] = None,
    warnings: Optional[list[str]] = None,
) -> StackConfig:
    """`load_stack_config` against a config bag, as the CLI would hand it over."""
    bag = {f"bitbucket-mirrors:{k}": json.dumps(v) for k, v in raw.items()}
    bag["aws:region"] = STACK_REGION
    if password is not None:
        bag["bitbucket-mirrors:primaryPassword"] = password
    for key, value in (extra or {}).items():  # None removes a key
        if value is None:
            bag.pop(key, None)
        else:
            bag[key] = value

    sink = warnings if warnings is not None else []
    return in_runtime(lambda _loop: load_stack_config(warn=sink.append), bag, cli_secret_keys(bag))


def cli_secret_keys(bag: dict[str, str]) -> list[str]:
    """What the CLI marks secret when each secret is set with --secret: the password, and a
    top-level key as a whole when a privateKey is anywhere in it."""
    return [
        key
        for key, value in bag.items()
        if key == "bitbucket-mirrors:primaryPassword" or (key != "aws:region" and '"privateKey"' in value)
    ]


def with_(path: str, value: Any, base: Optional[dict] = None) -> dict[str, Any]:
    """A copy of BASE with the dotted/indexed `path` set (value DELETE removes it)."""
    raw = copy.deepcopy(base or BASE)
    parts = path.replace("[", ".[").split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        last = i == len(parts) - 1
        if last:
            if value is DELETE:
                del node[key]
            else:
                node[key] = value
        else:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
    return raw


DELETE = object()
NGINX_TLS = {"mode": "nginx", "certificate": PEM_CERT, "privateKey": PEM_KEY}
TWO_MIRRORS = with_(
    "mirrors", [BASE["mirrors"][0], {**BASE["mirrors"][0], "name": "fra", "baseUrl": "https://mirror-fra.example.com"}]
)


def problems_of(raw: dict[str, Any], **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load(raw, **kwargs)
    return str(caught.value)


REFUSALS = [
    # (case id, config, key path named, words the message must contain)
    ("http-primary", with_("primary.url", "http://bitbucket.example.com"), "primary.url", "https://"),
    ("http-baseurl", with_("mirrors[0].baseUrl", "http://mirror.example.com"), "mirrors[0].baseUrl", "https://"),
    ("missing-primary-url", with_("primary.url", DELETE), "primary.url", "required"),
    ("missing-username", with_("primary.username", DELETE), "primary.username", "required"),
    ("missing-primary", with_("primary", DELETE), "primary", "required"),
    ("missing-baseurl", with_("mirrors[0].baseUrl", DELETE), "mirrors[0].baseUrl", "required"),
    ("missing-mirrors", with_("mirrors", DELETE), "mirrors", "required"),
    ("no-mirrors", with_("mirrors", []), "mirrors", "at least one mirror"),
    ("zero-nodes", with_("mirrors[0].nodes", 0), "mirrors[0].nodes", "greater than or equal to 1"),
    (
        "farm-with-nginx",
        with_("mirrors[0].nodes", 3, with_("mirrors[0].tls", NGINX_TLS)),
        "mirrors[0].tls.mode",
        "needs tls.mode 'acm'",
    ),
    (
        "mirror-all-and-projects",
        with_("mirrors[0].mirrorAll", True, with_("mirrors[0].projects", ["PROJ"])),
        "mirrors[0].mirrorAll",
        "remove either mirrorAll or projects",
    ),
    (
        "bad-project-key",
        with_("mirrors[0].projects", ["OK", "1BAD"]),
        "mirrors[0].projects[1]",
        "not a Bitbucket project key",
    ),
    (
        "project-key-dash",
        with_("mirrors[0].projects", ["MY-PROJ"]),
        "mirrors[0].projects[0]",
        "letters, digits or underscores",
    ),
    ("duplicate-project", with_("mirrors[0].projects", ["ops", "OPS"]), "mirrors[0].projects[1]", "listed twice"),
    ("duplicate-names", with_("mirrors[1].name", "syd", TWO_MIRRORS), "mirrors[1].name", "already used by mirrors[0]"),
    (
        "duplicate-baseurl-case-slash",
        with_("mirrors[1].baseUrl", "https://MIRROR-SYD.example.com/", TWO_MIRRORS),
        "mirrors[1].baseUrl",
        "same URL as mirrors[0].baseUrl",
    ),
    ("small-instance-cpu", with_("mirrors[0].instanceType", "m6g.medium"), "mirrors[0].instanceType", "1 vCPU / 4 GiB"),
    (
        "small-instance-memory",
        with_("mirrors[0].instanceType", "c6i.large"),
        "mirrors[0].instanceType",
        "2 vCPU / 4 GiB",
    ),
    (
        "small-burstable",
        with_("mirrors[0].instanceType", "t3.medium"),
        "mirrors[0].instanceType",
        "at least 2 vCPU and 8 GiB",
    ),
    ("not-an-instance-type", with_("mirrors[0].instanceType", "huge"), "mirrors[0].instanceType", "family.size"),
    ("bad-name-upper", with_("mirrors[0].name", "Syd"), "mirrors[0].name", "^[a-z][a-z0-9-]{1,30}$"),
    ("bad-name-short", with_("mirrors[0].name", "s"), "mirrors[0].name", "not a valid mirror name"),
    ("bad-name-long", with_("mirrors[0].name", "s" * 32), "mirrors[0].name", "not a valid mirror name"),
    ("unknown-tls-mode", with_("mirrors[0].tls.mode", "letsencrypt"), "mirrors[0].tls.mode", "'acm' or 'nginx'"),
    (
        "acm-without-zone-or-arn",
        with_("mirrors[0].tls", {"mode": "acm"}),
        "mirrors[0].tls.hostedZoneId",
        "tls.certificateArn",
    ),
    (
        "nginx-without-certificate",
        with_("mirrors[0].tls", {"mode": "nginx", "privateKey": PEM_KEY}),
        "mirrors[0].tls.certificate",
        "PEM certificate chain",
    ),
    (
        "nginx-without-key",
        with_("mirrors[0].tls", {"mode": "nginx", "certificate": PEM_CERT}),
        "mirrors[0].tls.privateKey",
        "--secret",
    ),
    (
        "nginx-with-acm-arn",
        with_(
            "mirrors[0].tls",
            {**NGINX_TLS, "certificateArn": "arn:aws:acm:ap-southeast-2:123456789012:certificate/abc-1"},
        ),
        "mirrors[0].tls.certificateArn",
        "only used with tls.mode 'acm'",
    ),
    (
        "malformed-client-cidr",
        with_("network", {"clientCidrs": ["10.0.0.0/33"]}),
        "network.clientCidrs[0]",
        "expected a CIDR",
    ),
    ("cidr-host-bits", with_("network", {"adminCidrs": ["10.0.0.1/24"]}), "network.adminCidrs[0]", "expected a CIDR"),
    ("malformed-primary-cidr", with_("primary.cidrs", ["not-a-cidr"]), "primary.cidrs[0]", "expected a CIDR"),
    ("ssh-open-v4", with_("network", {"adminCidrs": ["0.0.0.0/0"]}), "network.adminCidrs[0]", "whole internet"),
    (
        "ssh-open-v6",
        with_("network", {"adminCidrs": ["198.51.100.7/32", "::/0"]}),
        "network.adminCidrs[1]",
        "whole internet",
    ),
    (
        "unknown-key-suggests",
        with_("mirrors[0].tls.hostedZoneID", "Z0123456789ABCDEFGHIJ"),
        "mirrors[0].tls.hostedZoneID",
        "did you mean 'hostedZoneId'",
    ),
    (
        "unknown-top-level-key",
        with_("network", {"clientCidr": ["10.0.0.0/8"]}),
        "network.clientCidr",
        "did you mean 'clientCidrs'",
    ),
    (
        "baseurl-with-path",
        with_("mirrors[0].baseUrl", "https://mirror.example.com/bitbucket"),
        "mirrors[0].baseUrl",
        "no path",
    ),
    (
        "baseurl-other-port",
        with_("mirrors[0].baseUrl", "https://mirror.example.com:8443"),
        "mirrors[0].baseUrl",
        "port 443",
    ),
    ("bad-version", with_("mirrors[0].bitbucketVersion", "9.4"), "mirrors[0].bitbucketVersion", "MAJOR.MINOR.PATCH"),
    (
        "bad-sha",
        with_("mirrors[0].installer", {"url": "https://dl.internal/bb.tar.gz", "sha256": "abc"}),
        "mirrors[0].installer.sha256",
        "sha256",
    ),
    ("bad-zone-id", with_("mirrors[0].tls.hostedZoneId", "zone-1"), "mirrors[0].tls.hostedZoneId", "hosted zone id"),
    ("small-home", with_("mirrors[0].homeVolumeGb", 5), "mirrors[0].homeVolumeGb", "greater than or equal to 20"),
    (
        "bastion-without-key",
        with_("network", {"bastion": {"host": "bastion.example.com", "hostKey": BASTION_HOST_KEY}}),
        "network.bastion.privateKey",
        "required",
    ),
    (
        "bastion-without-host-key",
        with_("network", {"bastion": {"host": "bastion.example.com", "privateKey": PEM_KEY}}),
        "network.bastion.hostKey",
        "required",
    ),
    # Values the program or a provider would reject later, under another name: refused here, by key.
    (
        "primary-url-with-password",
        with_("primary.url", "https://user:hunter2@bitbucket.example.com"),
        "primary.url",
        "primary.username and its password as the secret primaryPassword",
    ),
    (
        "primary-url-with-user",
        with_("primary.url", "https://user@bitbucket.example.com"),
        "primary.url",
        "without credentials",
    ),
    (
        "baseurl-with-user",
        with_("mirrors[0].baseUrl", "https://someone@mirror.example.com"),
        "mirrors[0].baseUrl",
        "without credentials",
    ),
    (
        "installer-url-with-password",
        with_("mirrors[0].installer", {"url": "https://u:hunter2@dl.internal/bb.tar.gz"}),
        "mirrors[0].installer.url",
        "needs no credentials",
    ),
    (
        "display-name-line-break",
        with_("mirrors[0].displayName", "Sydney\nmirror"),
        "mirrors[0].displayName",
        "one line of text without control or format characters (found U+000A",
    ),
    ("display-name-carriage-return", with_("mirrors[0].displayName", "Syd\rney"), "mirrors[0].displayName", "U+000D"),
    ("display-name-tab", with_("mirrors[0].displayName", "Syd\tney"), "mirrors[0].displayName", "U+0009"),
    ("display-name-delete", with_("mirrors[0].displayName", "Syd\x7fney"), "mirrors[0].displayName", "U+007F"),
    ("display-name-c1-control", with_("mirrors[0].displayName", "Syd\x9fney"), "mirrors[0].displayName", "U+009F"),
    ("vpc-id-7-hex", with_("network", {"vpcId": "vpc-0123abc"}), "network.vpcId", "a VPC id"),
    (
        "display-name-too-long",
        with_("mirrors[0].displayName", "x" * 256),
        "mirrors[0].displayName",
        "at most 255 characters",
    ),
    (
        "baseurl-trailing-dot",
        with_("mirrors[0].baseUrl", "https://mirror.example.com."),
        "mirrors[0].baseUrl",
        "without a trailing dot",
    ),
    (
        "nginx-baseurl-trailing-dot",
        with_("mirrors[0].baseUrl", "https://mirror.example.com.", with_("mirrors[0].tls", NGINX_TLS)),
        "mirrors[0].baseUrl",
        "without a trailing dot",
    ),
    (
        "primary-trailing-dot",
        with_("primary.url", "https://bitbucket.example.com./"),
        "primary.url",
        "without a trailing dot",
    ),
    ("username-with-colon", with_("primary.username", "mirror:admin"), "primary.username", "without ':'"),
    (
        "bastion-host-not-a-host",
        with_("network", {"bastion": {"host": "bastion host", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}}),
        "network.bastion.host",
        "host name or IP address",
    ),
    ("version-8", with_("mirrors[0].bitbucketVersion", "8.19.3"), "mirrors[0].bitbucketVersion", "9.0 or newer"),
    ("baseurl-ip-v6", with_("mirrors[0].baseUrl", "https://[::1]"), "mirrors[0].baseUrl", "https://<hostname>"),
    # Boundaries, each one past the edge.
    ("home-19", with_("mirrors[0].homeVolumeGb", 19), "mirrors[0].homeVolumeGb", "greater than or equal to 20"),
    ("home-16385", with_("mirrors[0].homeVolumeGb", 16385), "mirrors[0].homeVolumeGb", "less than or equal to 16384"),
    ("ssh-port-0", with_("primary.sshPort", 0), "primary.sshPort", "greater than or equal to 1"),
    ("ssh-port-65536", with_("primary.sshPort", 65536), "primary.sshPort", "less than or equal to 65535"),
    (
        "bastion-port-0",
        with_(
            "network", {"bastion": {"host": "10.1.2.3", "port": 0, "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}}
        ),
        "network.bastion.port",
        "greater than or equal to 1",
    ),
    (
        "bastion-port-65536",
        with_(
            "network",
            {"bastion": {"host": "10.1.2.3", "port": 65536, "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}},
        ),
        "network.bastion.port",
        "less than or equal to 65535",
    ),
    (
        "approval-timeout-59",
        with_("mirrors[0].approvalTimeoutS", 59),
        "mirrors[0].approvalTimeoutS",
        "greater than or equal to 60",
    ),
    ("empty-display-name", with_("mirrors[0].displayName", ""), "mirrors[0].displayName", "leave the key out"),
    (
        "two-node-nginx-farm",
        with_("mirrors[0].nodes", 2, with_("mirrors[0].tls", NGINX_TLS)),
        "mirrors[0].tls.mode",
        "a mirror farm (nodes: 2) needs tls.mode 'acm'",
    ),
    (
        "duplicate-baseurl-explicit-443",
        with_("mirrors[1].baseUrl", "https://mirror-syd.example.com:443", TWO_MIRRORS),
        "mirrors[1].baseUrl",
        "same URL as mirrors[0].baseUrl",
    ),
    # More values a provider or AWS would reject later, and the edges of the shapes checked here.
    (
        "acm-name-19-chars",
        with_("mirrors[0].name", "s" * 19),
        "mirrors[0].name",
        "with tls.mode 'acm' at most 18: the load balancer's target groups",
    ),
    ("username-non-latin1", with_("primary.username", "管理者"), "primary.username", "Latin-1"),
    ("username-control-character", with_("primary.username", "ad\x01min"), "primary.username", "control characters"),
    ("username-empty", with_("primary.username", ""), "primary.username", "at least 1 character"),
    (
        "bastion-user-empty",
        with_(
            "network", {"bastion": {"host": "10.1.2.3", "user": "", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}}
        ),
        "network.bastion.user",
        "expected a POSIX user name",
    ),
    (
        "baseurl-with-fragment",
        with_("mirrors[0].baseUrl", "https://mirror.example.com#top"),
        "mirrors[0].baseUrl",
        "without query or fragment",
    ),
    (
        "baseurl-label-leading-hyphen",
        with_("mirrors[0].baseUrl", "https://-mirror.example.com"),
        "mirrors[0].baseUrl",
        "https://<hostname>",
    ),
    (
        "baseurl-label-trailing-hyphen",
        with_("mirrors[0].baseUrl", "https://mirror-.example.com"),
        "mirrors[0].baseUrl",
        "https://<hostname>",
    ),
    (
        "baseurl-host-254",
        with_("mirrors[0].baseUrl", "https://" + ".".join(["a" * 63] * 3 + ["b" * 62])),
        "mirrors[0].baseUrl",
        "https://<hostname>",
    ),
    (
        "project-key-129",
        with_("mirrors[0].projects", ["P" * 129]),
        "mirrors[0].projects[0]",
        "is not a Bitbucket project key",
    ),
    (
        "certificate-without-end",
        with_("mirrors[0].tls", {**NGINX_TLS, "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n"}),
        "mirrors[0].tls.certificate",
        "-----END CERTIFICATE-----",
    ),
    (
        "bastion-dss-host-key",
        with_(
            "network", {"bastion": {"host": "10.1.2.3", "privateKey": PEM_KEY, "hostKey": "ssh-dss AAAAB3NzaC1kc3M"}}
        ),
        "network.bastion.hostKey",
        "got 'ssh-dss AAAAB3NzaC1kc3M'",
    ),
    ("subnet-id-malformed", with_("network", {"subnetIds": ["subnet-xyz"]}), "network.subnetIds[0]", "a subnet id"),
    (
        "certificate-arn-not-acm",
        with_("mirrors[0].tls.certificateArn", "arn:aws:s3:::certificates"),
        "mirrors[0].tls.certificateArn",
        "an ACM certificate ARN",
    ),
    (
        "acm-with-nginx-certificate",
        with_("mirrors[0].tls.certificate", PEM_CERT),
        "mirrors[0].tls.certificate",
        "only used with tls.mode 'nginx'",
    ),
    (
        "acm-with-nginx-key",
        with_("mirrors[0].tls.privateKey", PEM_KEY),
        "mirrors[0].tls.privateKey",
        "only used with tls.mode 'nginx'",
    ),
]

ACCEPTED = [
    # (case id, config): the other side of each boundary above.
    ("home-20", with_("mirrors[0].homeVolumeGb", 20)),
    ("home-16384", with_("mirrors[0].homeVolumeGb", 16384)),
    ("ssh-port-1", with_("primary.sshPort", 1)),
    ("ssh-port-65535", with_("primary.sshPort", 65535)),
    (
        "bastion-port-65535",
        with_(
            "network",
            {
                "bastion": {
                    "host": "bastion.example.com",
                    "port": 65535,
                    "privateKey": PEM_KEY,
                    "hostKey": BASTION_HOST_KEY,
                }
            },
        ),
    ),
    ("approval-timeout-60", with_("mirrors[0].approvalTimeoutS", 60)),
    ("display-name-255-unicode", with_("mirrors[0].displayName", ("Sydney Ünicode 🦘 " + "x" * 255)[:255])),
    ("vpc-id-8-hex", with_("network", {"vpcId": "vpc-0123abcd"})),
    ("display-name-latin1", with_("mirrors[0].displayName", "Zürich\xa0mirror")),
    (
        "bastion-ecdsa-256-host-key",
        with_(
            "network",
            {"bastion": {"host": "10.1.2.3", "privateKey": PEM_KEY, "hostKey": ECDSA_256_HOST_KEY}},
        ),
    ),
    (
        "bastion-ecdsa-521-host-key",
        with_(
            "network",
            {"bastion": {"host": "10.1.2.3", "privateKey": PEM_KEY, "hostKey": ECDSA_521_HOST_KEY}},
        ),
    ),
    ("name-2-chars", with_("mirrors[0].name", "sy")),
    ("name-31-chars-nginx", with_("mirrors[0].name", "s" * 31, with_("mirrors[0].tls", NGINX_TLS))),
    ("acm-name-18-chars", with_("mirrors[0].name", "s" * 18)),
    ("username-latin1", with_("primary.username", "jürgen")),
    ("baseurl-host-253", with_("mirrors[0].baseUrl", "https://" + ".".join(["a" * 63] * 3 + ["b" * 61]))),
    ("project-key-128", with_("mirrors[0].projects", ["P" * 128])),
    ("one-node-nginx", with_("mirrors[0].tls", NGINX_TLS)),
    ("baseurl-explicit-443", with_("mirrors[0].baseUrl", "https://mirror-syd.example.com:443")),
    ("version-9-0-0", with_("mirrors[0].bitbucketVersion", "9.0.0")),
    ("version-10", with_("mirrors[0].bitbucketVersion", "10.0.1")),
    (
        "bastion-ip",
        with_("network", {"bastion": {"host": "10.1.2.3", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}}),
    ),
    ("primary-with-path-and-port", with_("primary.url", "https://bitbucket.example.com:8443/bitbucket")),
]


@pytest.mark.parametrize("raw", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_values_at_the_edge_are_accepted(raw):
    load(raw)


def test_a_url_with_a_password_is_refused_without_showing_it():
    for path in ("primary.url", "mirrors[0].baseUrl"):
        message = problems_of(with_(path, "https://admin:hunter2-secret@host.example.com"))
        assert f"bitbucket-mirrors:{path}:" in message
        assert "hunter2" not in message and "admin:" not in message


@pytest.mark.parametrize("raw, path, words", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusal_names_key_and_expectation(raw, path, words):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert words in message, message
    assert "nothing was created" in message


def test_missing_password_is_refused_with_the_command_to_set_it():
    message = problems_of(BASE, password=None)
    assert "bitbucket-mirrors:primaryPassword: is required" in message
    assert "pulumi config set --secret primaryPassword" in message


def test_unknown_top_level_key_is_refused_with_suggestion():
    message = problems_of(BASE, extra={"bitbucket-mirrors:mirror": "[]"})
    assert "bitbucket-mirrors:mirror: unknown key; did you mean 'mirrors'?" in message


def test_all_problems_are_reported_together():
    raw = with_("primary.url", "http://x.example.com", with_("mirrors[0].nodes", 0))
    message = problems_of(raw, password=None)
    assert "3 problems" in message
    for path in ("primary.url", "mirrors[0].nodes", "primaryPassword"):
        assert f"bitbucket-mirrors:{path}:" in message


def test_secret_values_never_appear_in_errors():
    bad_key = "-----BEGIN NOT A KEY----- hunter2-material"
    raw = with_("mirrors[0].tls", {"mode": "nginx", "certificate": PEM_CERT, "privateKey": bad_key})
    message = problems_of(with_("mirrors[0].nodes", 2, raw))
    assert "mirrors[0].tls.privateKey" in message
    assert "hunter2" not in message
    bastion = with_("network", {"bastion": {"host": "b.example.com", "privateKey": ["hunter2-in-a-list"]}})
    assert "hunter2" not in problems_of(bastion)


def test_defaults_follow_the_contract():
    config = load(BASE)
    mirror = config.mirrors[0]
    assert config.primary.ssh_port == 7999
    assert config.primary.cidrs == () and config.primary.ca_bundle is None
    assert config.network.vpc_id is None and config.network.admin_cidrs == () and config.network.bastion is None
    assert mirror.effective_display_name == "syd"
    assert mirror.bitbucket_version == "9.4.16"
    assert (mirror.nodes, mirror.instance_type, mirror.home_volume_gb) == (1, "m6i.xlarge", 100)
    assert mirror.tls.mode == "acm"
    assert mirror.projects == () and mirror.mirror_all is False and mirror.wait_for_sync is True
    assert mirror.installer is None
    assert mirror.approval_timeout_s == 1800


def test_config_objects_are_frozen_and_keys_upper_cased():
    config = load(with_("mirrors[0].projects", ["plat", "Ops_2"]))
    assert config.mirrors[0].projects == ("PLAT", "OPS_2")
    with pytest.raises(ValidationError, match="frozen"):
        config.mirrors[0].nodes = 5  # type: ignore[misc]


def test_unknown_instance_family_passes_with_a_warning():
    warnings: list[str] = []
    config = load(with_("mirrors[0].instanceType", "x9z.4xlarge"), warnings=warnings)
    assert config.mirrors[0].instance_type == "x9z.4xlarge"
    assert any("mirrors[0].instanceType" in w and "x9z.4xlarge" in w for w in warnings)


def test_known_sufficient_instance_types_pass_without_warning():
    for instance_type in ("m6i.large", "t3.large", "r6i.large", "c6i.xlarge", "m7g.2xlarge"):
        warnings: list[str] = []
        load(with_("mirrors[0].instanceType", instance_type), warnings=warnings)
        assert warnings == [], instance_type


def test_secrets_stay_pulumi_secrets():
    raw = with_("mirrors[0].tls", NGINX_TLS)
    raw = with_(
        "network", {"bastion": {"host": "b.example.com", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY}}, raw
    )
    captured: dict[str, Any] = {}
    bag = {f"bitbucket-mirrors:{k}": json.dumps(v) for k, v in raw.items()}
    bag["bitbucket-mirrors:primaryPassword"] = "pw-hunter2"
    bag["aws:region"] = STACK_REGION

    def run(loop):
        config = load_stack_config(warn=lambda _: None)
        outputs = [
            config.primary_password,
            secret_output(config.mirrors[0].tls.private_key),
            secret_output(config.network.bastion.private_key),
        ]
        captured["secret"] = [loop.run_until_complete(o.is_secret()) for o in outputs]
        captured["repr"] = repr(config)

    in_runtime(
        run, bag, ["bitbucket-mirrors:primaryPassword", "bitbucket-mirrors:mirrors", "bitbucket-mirrors:network"]
    )
    assert captured["secret"] == [True, True, True]
    assert "super-secret-key-material" not in captured["repr"]
    assert "pw-hunter2" not in captured["repr"]


def test_readme_config_reference_matches_the_model():
    from stack_config.readme_sync import README, synced

    text = README.read_text()
    assert synced(text) == text, "README's config reference is stale: run venv/bin/python -m stack_config.readme_sync"
    for key in ("mirrors[].tls.hostedZoneId", "network.adminCidrs", "primaryPassword", "mirrors[].mirrorAll"):
        assert f"`bitbucket-mirrors:{key}`" in text


def test_a_validation_error_that_escapes_never_prints_the_rejected_value():
    # Anything that prints a model's ValidationError (a traceback, a log line) must not show the
    # input: it may be key material or a password pasted into the wrong key.
    from stack_config import Bastion, Tls

    with pytest.raises(ValidationError) as caught:
        Bastion.model_validate(
            {"host": "b.example.com", "hostKey": BASTION_HOST_KEY, "privateKey": "hunter2-pasted-password"}
        )
    with pytest.raises(ValidationError) as caught_type:
        Tls.model_validate({"mode": "nginx", "privateKey": {"nested": "hunter2-in-an-object"}})
    for error in (caught.value, caught_type.value):
        assert "privateKey" in str(error) and "hunter2" not in str(error)


def test_metal_sizes_pass_with_a_warning_rather_than_a_guess():
    warnings: list[str] = []
    load(with_("mirrors[0].instanceType", "m6i.metal"), warnings=warnings)
    assert any("m6i.metal" in w and "not in the size table" in w for w in warnings)


def test_a_password_basic_authentication_cannot_carry_is_refused_without_showing_it():
    message = problems_of(BASE, password="pässwörd-密码")
    assert "bitbucket-mirrors:primaryPassword: has characters HTTP basic authentication cannot carry" in message
    assert "密码" not in message and "pässwörd" not in message


def test_a_latin1_password_is_accepted():
    load(BASE, password="pässwörd")


def test_values_are_taken_without_surrounding_white_space():
    mirror = load(with_("mirrors[0].baseUrl", "  https://mirror-syd.example.com \n")).mirrors[0]
    assert mirror.base_url == "https://mirror-syd.example.com"
