"""What each rendered host file needs: frozen, validated specs (a bad field raises ValueError naming it).

The config refuses every such value at preview first; these checks are the renderer's own guard, so
that nothing reaching a script or a config file on a node can be injected, whoever builds a spec."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional
from urllib.parse import urlsplit

from facts.urls import is_hostname
from stack_config.model import REGION_PATTERN

from .runtime import supported_runtime

STAGING_DIR = "/opt/bitbucket-mirror/staging"
NGINX_CERT_PATH = "/etc/bitbucket-mirror/tls/tls.crt"
NGINX_KEY_PATH = "/etc/bitbucket-mirror/tls/tls.key"
HOME_DIR = "/var/atlassian/application-data/bitbucket"
INSTALL_ROOT = "/opt/atlassian/bitbucket"
_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9._-]+$")


METRICS_NAMESPACE = "BitbucketMirrors"
# Where the vendor publishes a checksum of each download: its download feeds, one entry per file with
# an MD5 (no other algorithm; docs/download-verification.md). Read over https by the install when no
# installer.sha256 is configured; the current releases first, then the archived ones.
VENDOR_CHECKSUM_FEEDS = (
    "https://my.atlassian.com/download/feeds/current/stash.json",
    "https://my.atlassian.com/download/feeds/archived/stash.json",
)
# The hosts a feed entry's URL (zipUrl) may name for the archive's MD5 to count: the vendor's own
# (the feeds list www.atlassian.com; the install downloads from product-downloads.atlassian.com).
VENDOR_DOWNLOAD_HOSTS = ("www.atlassian.com", "product-downloads.atlassian.com")

# The Prometheus JMX exporter, pinned: the sha256 is the one two independent public projects pin
# for this release (see README "Monitoring"); the install refuses any other file.
JMX_EXPORTER_VERSION = "1.6.0"
JMX_EXPORTER_URL = (
    "https://repo1.maven.org/maven2/io/prometheus/jmx/jmx_prometheus_javaagent/"
    f"{JMX_EXPORTER_VERSION}/jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"
)
JMX_EXPORTER_SHA256 = "a95983fd96e865d2bcdf911cc500e7c82808c27ab9fd226bf96732b6c3d8c46e"
JMX_EXPORTER_PORT = 9404
METRICS_SCRIPT_PATH = "/usr/local/libexec/bitbucket-mirrors/publish-metrics.sh"
METRICS_UNIT = "bitbucket-mirror-metrics"


class StagedFile:
    """Names of the files the components copy into STAGING_DIR before running the install script."""

    PROPERTIES = "bitbucket.properties"
    NGINX_SITE = "nginx-site.conf"
    TLS_CERT = "tls.crt"
    TLS_KEY = "tls.key"
    CA_BUNDLE = "ca-bundle.pem"
    SYSTEMD_UNIT = "atlbitbucket.service"
    INSTALL_SCRIPT = "install.sh"
    GENERATION = "mirror-generation"  # which mirror the home must belong to (MirrorGeneration)
    SSH_SERVER_KEY = "ssh-server-keys.pem"  # the site's one SSH host key for Bitbucket's port 7999


def _require(condition: bool, field_name: str, expected: str) -> None:
    if not condition:
        raise ValueError(f"{field_name}: expected {expected}")


@dataclass(frozen=True)
class DownloadLimits:
    """What one download may take before curl gives up (every download of the install has them):
    a connection within `connect_s`, at least `floor_bytes_per_s` over any `floor_s` seconds, at most
    `max_bytes` and `max_s` seconds in all, `retries` further attempts included (curl retries a
    refused connection, a timeout and a 5xx answer)."""

    max_bytes: int
    max_s: int
    connect_s: int = 20
    floor_bytes_per_s: int = 16 * 1024
    floor_s: int = 60
    retries: int = 2

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_s", "connect_s", "floor_bytes_per_s", "floor_s"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value > 0, name, "a positive whole number")
        _require(isinstance(self.retries, int) and 0 <= self.retries <= 5, "retries", "0 to 5")
        _require(self.connect_s <= self.max_s and self.floor_s <= self.max_s, "max_s", "at least connect_s and floor_s")


_MIB = 1024 * 1024
# The Bitbucket archive: the vendor's feeds list 541.2 MB for 9.5.2 and 541.7 MB for 9.4.4
# (atlassian-bitbucket-<version>.tar.gz, docs/download-verification.md): 1 GiB is about twice that.
# 30 minutes is 600 KB/s on average; a node in EC2 takes it in well under a minute.
ARCHIVE_LIMITS = DownloadLimits(max_bytes=1024 * _MIB, max_s=1800)
# A vendor feed: the archived one, every Bitbucket release, is about 1.1 MB (the public copy in
# EpicMorg/atlassian-json, json-backups/archived/stash.json).
FEED_LIMITS = DownloadLimits(max_bytes=16 * _MIB, max_s=120)
# The JMX exporter's agent: one jar.
AGENT_LIMITS = DownloadLimits(max_bytes=16 * _MIB, max_s=300)


@dataclass(frozen=True)
class FarmSpec:
    """Hazelcast membership by AWS discovery: the node finds the running instances that carry the
    farm's tag, with its own instance role. No node's file names another node, so adding or
    removing a node leaves every other node's files as they are."""

    group_name: str
    group_password: str
    region: str
    iam_role: str  # the node's instance role (name), whose credentials discovery uses
    tag_key: str
    tag_value: str
    port: int = 5701

    def __post_init__(self) -> None:
        _require(bool(_TOKEN.match(self.group_name)), "group_name", "letters, digits, '.', '_' or '-'")
        _require(len(self.group_password) >= 16, "group_password", "at least 16 characters")
        _require(bool(re.match(REGION_PATTERN, self.region)), "region", "an AWS region")
        _require(bool(re.fullmatch(r"[\w+=,.@-]{1,64}", self.iam_role)), "iam_role", "an IAM role name")
        _require(bool(re.fullmatch(r"[A-Za-z0-9:._-]{1,128}", self.tag_key)), "tag_key", "an EC2 tag key")
        _require(bool(_TOKEN.match(self.tag_value)), "tag_value", "letters, digits, '.', '_' or '-'")
        _require(1 <= self.port <= 65535, "port", "a TCP port")


@dataclass(frozen=True)
class PropertiesSpec:
    """What bitbucket.properties is rendered from: the setup block, the base URL, farm keys, extras."""

    setup_block: str
    base_url: str
    farm: Optional[FarmSpec] = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("setup.displayName=", "setup.baseUrl=", "plugin.mirroring.upstream.url="):
            _require(key in self.setup_block, "setup_block", f"the setup keys (missing {key.rstrip('=')})")
        parts = urlsplit(self.base_url)
        _require(parts.scheme == "https" and is_hostname(parts.hostname or ""), "base_url", "an https:// URL")
        for key in self.extra:
            _require(
                bool(re.match(r"^[A-Za-z0-9._-]+$", key)) and not key.startswith(("setup.", "hazelcast.")),
                "extra",
                "plain property keys that do not override setup or clustering keys",
            )

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 443


@dataclass(frozen=True)
class NginxSiteSpec:
    """What the node's nginx site is rendered from (tls.mode nginx): its name, certificate, upstream."""

    server_name: str
    cert_path: str = NGINX_CERT_PATH
    key_path: str = NGINX_KEY_PATH
    upstream: str = "127.0.0.1:7990"
    https_port: int = 443
    http_port: int = 80

    def __post_init__(self) -> None:
        _require(
            self.server_name == self.server_name.lower() and is_hostname(self.server_name),
            "server_name",
            "a lower-case DNS host name",
        )
        _require(bool(_PATH.match(self.cert_path)), "cert_path", "an absolute path")
        _require(bool(_PATH.match(self.key_path)), "key_path", "an absolute path")
        _require(bool(re.fullmatch(r"[0-9.]+:\d{1,5}", self.upstream)), "upstream", "address:port")
        for name in ("https_port", "http_port"):
            _require(1 <= getattr(self, name) <= 65535, name, "a TCP port")


@dataclass(frozen=True)
class InstallSpec:
    """What the node's install script is rendered from: the version, the archive, the home, TLS mode."""

    bitbucket_version: str
    home_volume_id: str
    tls_mode: str
    installer_url: Optional[str] = None
    installer_sha256: Optional[str] = None
    has_ca_bundle: bool = False
    jmx_exporter: bool = False
    home_dir: str = HOME_DIR
    install_root: str = INSTALL_ROOT
    status_timeout_s: int = 900
    # The sha256 this site first verified for bitbucket_version (ArchiveTrust, in the stack's state):
    # the archive must be exactly those bytes. None on the node that verifies it first.
    trusted_sha256: Optional[str] = None
    archive_limits: DownloadLimits = ARCHIVE_LIMITS
    feed_limits: DownloadLimits = FEED_LIMITS
    agent_limits: DownloadLimits = AGENT_LIMITS

    def __post_init__(self) -> None:
        supported_runtime(self.bitbucket_version)  # raises UnsupportedVersion, a ValueError
        _require(
            bool(re.fullmatch(r"vol-[0-9a-f]{8,17}", self.home_volume_id)),
            "home_volume_id",
            "an EBS volume id (vol-...)",
        )
        _require(self.tls_mode in ("acm", "nginx"), "tls_mode", "'acm' or 'nginx'")
        if self.installer_url is not None:
            _require(self.installer_url.startswith("https://"), "installer_url", "an https:// URL")
        if self.installer_sha256 is not None:
            _require(bool(re.fullmatch(r"[0-9a-f]{64}", self.installer_sha256)), "installer_sha256", "64 hex digits")
        if self.trusted_sha256 is not None:
            _require(bool(re.fullmatch(r"[0-9a-f]{64}", self.trusted_sha256)), "trusted_sha256", "64 hex digits")
        for name in ("archive_limits", "feed_limits", "agent_limits"):
            _require(isinstance(getattr(self, name), DownloadLimits), name, "DownloadLimits")
        _require(bool(_PATH.match(self.home_dir)), "home_dir", "an absolute path")
        _require(bool(_PATH.match(self.install_root)), "install_root", "an absolute path")
        _require(self.status_timeout_s > 0, "status_timeout_s", "a positive number of seconds")


@dataclass(frozen=True)
class MetricsSpec:
    """The node-side health publisher: which site and node it speaks for, and where."""

    region: str
    site: str
    node: str
    namespace: str = METRICS_NAMESPACE
    home_dir: str = HOME_DIR

    def __post_init__(self) -> None:
        _require(bool(re.match(REGION_PATTERN, self.region)), "region", "an AWS region")
        for name in ("site", "node", "namespace"):
            _require(bool(_TOKEN.match(getattr(self, name))), name, "letters, digits, '.', '_' or '-'")
        _require(bool(_PATH.match(self.home_dir)), "home_dir", "an absolute path")
