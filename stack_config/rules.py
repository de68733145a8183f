"""Rules that compare fields, or mirrors, with each other (field rules live in `model.py`).

They run even when field rules failed elsewhere, so a file's problems are all reported in one pass:
each rule names the keys it reads (`Context.usable`), and is skipped only when one of those failed.
The model they read may then be a salvaged one (`salvage.py`): a failed field holds its default, a
mirror that is not an object at all is None.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional
from urllib.parse import urlsplit

from facts.bitbucket import VERSION
from facts.urls import normalise_base_url

from .certificates import covers, names_of, pem_certificates
from .errors import Problem
from .instance_types import MIN_MEMORY_GIB, MIN_VCPUS, UnknownInstanceType, size_of
from .model import Mirror, Network, StackModel
from .primary_reach import scm_suffix_warning
from .public_space import BOUND_WORDS, public_space
from .sites import inherited_placement_keys, site_monitoring


def related(a: str, b: str) -> bool:
    """Whether one key path is the other or contains it (mirrors[0].tls and mirrors[0].tls.mode)."""
    short, long = sorted((a, b), key=len)
    return long == short or long.startswith(short + ".") or long.startswith(short + "[")


@dataclass(frozen=True)
class Context:
    stack: StackModel
    aws_region: Optional[str]
    failed: frozenset[str] = frozenset()  # key paths whose values did not validate (or were not readable)

    def usable(self, *paths: str) -> bool:
        return not any(related(path, bad) for path in paths for bad in self.failed)

    def mirrors(self) -> Iterable[tuple[int, Mirror]]:
        return ((i, m) for i, m in enumerate(self.stack.mirrors or ()) if m is not None)

    def label(self, i: int, mirror: Mirror) -> str:
        return f"mirrors[{i}] ({mirror.name})" if self.usable(f"mirrors[{i}].name") else f"mirrors[{i}]"

    def region_of(self, i: int, mirror: Mirror) -> tuple[bool, Optional[str]]:
        """(known, region): whether the site's region can be read, and which it is (None: none set)."""
        if mirror.region is not None or not self.usable(f"mirrors[{i}].region"):
            return self.usable(f"mirrors[{i}].region"), mirror.region
        return self.usable("aws:region"), self.aws_region


def _public_space_problems(at: str, cidrs: tuple[str, ...], opens: str, expected: str) -> list[Problem]:
    """No single entry, and not the list together, covers more public space than the bound."""
    problems = []
    for j, cidr in enumerate(cidrs):
        if ipaddress.ip_network(cidr).prefixlen == 0:
            problems.append(Problem(f"{at}[{j}]", f"'{cidr}' opens {opens} to the whole internet; expected {expected}"))
        elif public_space([cidr]).too_wide:
            problems.append(
                Problem(
                    f"{at}[{j}]",
                    f"'{cidr}' opens {opens} to {public_space([cidr]).words()}; {BOUND_WORDS}: expected {expected}",
                )
            )
    together = public_space(cidrs)
    if not problems and together.too_wide:
        problems.append(
            Problem(
                at,
                f"together these {len(cidrs)} ranges open {opens} to {together.words()} "
                f"(overlaps counted once); {BOUND_WORDS}: expected {expected}",
            )
        )
    return problems


# The network lists that open a port: (key, field, the port in words, what to list instead).
_NETWORK_LISTS = (
    ("adminCidrs", "admin_cidrs", "SSH", "your admin addresses (e.g. 198.51.100.7/32) or use network.bastion"),
    (
        "clientCidrs",
        "client_cidrs",
        "clones (443 and 7999)",
        "your clients' networks (e.g. 10.0.0.0/8, or your offices' egress addresses)",
    ),
)


def _network_cidr_problems(ctx: Context, at: str, network: Network) -> list[Problem]:
    problems = []
    for key, field, opens, expected in _NETWORK_LISTS:
        if ctx.usable(f"{at}.{key}"):
            problems += _public_space_problems(f"{at}.{key}", getattr(network, field), opens, expected)
    return problems


def _primary_cidr_problems(ctx: Context) -> list[Problem]:
    if not ctx.usable("primary.cidrs") or ctx.stack.primary is None:
        return []
    return _public_space_problems(
        "primary.cidrs",
        ctx.stack.primary.cidrs,
        "the mirrors' HTTPS (443)",
        "the primary's egress addresses (e.g. 203.0.113.10/32)",
    )


def _base_url_host_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """A mirror on the primary's host name would take over the primary's DNS record and certificate."""
    at = f"mirrors[{i}].baseUrl"
    if not ctx.usable(at, "primary.url") or ctx.stack.primary is None:
        return []
    host = (urlsplit(mirror.base_url).hostname or "").lower()
    primary_host = (urlsplit(ctx.stack.primary.url).hostname or "").lower()
    if not host or host != primary_host:
        return []
    return [
        Problem(
            at,
            f"'{host}' is the primary's host (primary.url): the mirror's DNS record and certificate would "
            "replace the primary's; give the mirror a host name of its own (e.g. mirror-syd.example.com)",
        )
    ]


def _certificate_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """A load balancer can only use an ACM certificate of its own region."""
    known, region = ctx.region_of(i, mirror)
    arn = mirror.tls.certificate_arn
    if not known or not ctx.usable(f"mirrors[{i}].tls.certificateArn") or arn is None or region is None:
        return []
    if arn.split(":")[3] == region:
        return []
    return [
        Problem(
            f"mirrors[{i}].tls.certificateArn",
            f"the certificate is in {arn.split(':')[3]}, but {ctx.label(i, mirror)} runs in {region}: "
            "a load balancer can only use an ACM certificate of its own region; import or request the "
            f"certificate in {region}, or leave certificateArn out and set tls.hostedZoneId to have one created",
        )
    ]


def _kms_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """EBS and SSM use a KMS key of their own region only."""
    known, region = ctx.region_of(i, mirror)
    own = mirror.kms_key_arn is not None
    at = f"mirrors[{i}].kmsKeyArn" if own else "kmsKeyArn"
    arn = mirror.kms_key_arn or ctx.stack.kms_key_arn
    if not known or region is None or arn is None or not ctx.usable(at):
        return []
    if arn.split(":")[3] == region:
        return []
    fix = (
        "create or replicate the key in that region and name it here"
        if own
        else f"set mirrors[{i}].kmsKeyArn to a key in {region} for this site"
    )
    return [
        Problem(
            at,
            f"the key is in {arn.split(':')[3]}, but {ctx.label(i, mirror)} runs in {region}: EBS and SSM "
            f"can only use a KMS key of their own region; {fix}",
        )
    ]


def _placement_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    at = f"mirrors[{i}]"
    stack, aws_region = ctx.stack, ctx.aws_region
    if not ctx.usable(f"{at}.region", "aws:region"):
        return []
    if mirror.region is None:
        if aws_region is None:
            return [
                Problem(
                    f"{at}.region",
                    "no region: set aws:region for the stack "
                    f"(pulumi config set aws:region <region>) or {at}.region for this site",
                )
            ]
        return []
    if not ctx.usable("network.vpcId", "network.subnetIds", f"{at}.network"):
        return []
    # The stack-wide ids name resources of one region: aws:region's, or without it the first site's
    # that uses them (which cannot be told while any site's region or network failed).
    owner, named = aws_region, "the stack's aws:region"
    if owner is None:
        if not all(ctx.usable(f"mirrors[{k}].region", f"mirrors[{k}].network") for k in range(len(stack.mirrors))):
            return []
        users = [(k, m) for k, m in ctx.mirrors() if inherited_placement_keys(m, stack.network)]
        if users:
            k, first = users[0]
            owner, named = first.region, f"mirrors[{k}].region"
    if owner is None or mirror.region == owner:
        return []
    return [
        Problem(
            f"{at}.region",
            f"'{mirror.region}' differs from {named} '{owner}', but the site would use "
            f"network.{key}, which names {owner} resources: set {at}.network.{key} for {mirror.region} "
            f"(or {at}.network.vpcId: null and subnetIds: [] for that region's default VPC)",
        )
        for key in inherited_placement_keys(mirror, stack.network)
    ]


def _monitoring_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    monitoring = site_monitoring(ctx.stack.monitoring, mirror.monitoring)
    if monitoring is None:
        return []
    own = mirror.monitoring.model_fields_set if mirror.monitoring is not None else set()

    def key(field: str, name: str) -> str:
        return f"mirrors[{i}].monitoring.{name}" if field in own else f"monitoring.{name}"

    def usable(*names: str) -> bool:
        # A site's value may come from either level: both must have validated.
        return ctx.usable(*(f"monitoring.{n}" for n in names), *(f"mirrors[{i}].monitoring.{n}" for n in names))

    problems = []
    known, region = ctx.region_of(i, mirror)
    topic = monitoring.alarm_topic_arn
    if usable("alarmTopicArn") and topic is not None and known and region and topic.split(":")[3] != region:
        problems.append(
            Problem(
                key("alarm_topic_arn", "alarmTopicArn"),
                f"the topic is in {topic.split(':')[3]}, but {ctx.label(i, mirror)} runs in {region}: "
                "CloudWatch alarms notify topics in their own region; give a topic in that region "
                f"(mirrors[{i}].monitoring.alarmTopicArn) or leave it out to get one created",
            )
        )
    if usable("alarmTopicArn", "emails") and topic is not None and monitoring.emails:
        problems.append(
            Problem(
                key("emails", "emails"),
                f"subscribes to the topics the stack creates, but {key('alarm_topic_arn', 'alarmTopicArn')} "
                "names your own: subscribe the addresses to that topic, or remove one of the two keys",
            )
        )
    if usable("jmxExporter", "metricsCidrs"):
        if monitoring.jmx_exporter and not monitoring.metrics_cidrs:
            # Named where the exporter was turned on: that is where the addresses belong.
            problems.append(
                Problem(
                    key("jmx_exporter", "metricsCidrs"),
                    "jmxExporter: true needs the addresses allowed to scrape it on 9404 "
                    "(e.g. metricsCidrs: [10.9.0.0/16], your Prometheus servers)",
                )
            )
        if monitoring.metrics_cidrs and not monitoring.jmx_exporter:
            problems.append(
                Problem(
                    key("metrics_cidrs", "metricsCidrs"),
                    "is only used with jmxExporter: true; remove it or turn the exporter on",
                )
            )
    if usable("metricsCidrs"):
        problems += _public_space_problems(
            key("metrics_cidrs", "metricsCidrs"),
            monitoring.metrics_cidrs,
            "the JVM's metrics (9404)",
            "your monitoring servers' addresses",
        )
    return problems


# Target group names: '<name>-https-' + 7 random characters (Pulumi's auto-naming) <= 32 (AWS).
MAX_LOAD_BALANCED_NAME = 32 - len("-https-") - 7


def _tls_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    at = f"mirrors[{i}]"
    tls = mirror.tls
    if not ctx.usable(f"{at}.tls.mode"):
        return []
    problems = []
    if tls.mode == "nginx" and ctx.usable(f"{at}.nodes") and mirror.nodes > 1:
        problems.append(
            Problem(
                f"{at}.tls.mode",
                f"a mirror farm (nodes: {mirror.nodes}) needs tls.mode 'acm': the farm sits behind "
                "one load balancer; nginx mode serves a single node",
            )
        )
    if tls.mode == "acm":
        if ctx.usable(f"{at}.name") and len(mirror.name) > MAX_LOAD_BALANCED_NAME:
            problems.append(
                Problem(
                    f"{at}.name",
                    f"'{mirror.name}' has {len(mirror.name)} characters; with tls.mode 'acm' at most "
                    f"{MAX_LOAD_BALANCED_NAME}: the load balancer's target groups are named "
                    f"'{mirror.name}-https-' plus 7 random characters, and AWS allows 32",
                )
            )
        if (
            ctx.usable(f"{at}.tls.hostedZoneId", f"{at}.tls.certificateArn")
            and not tls.hosted_zone_id
            and not tls.certificate_arn
        ):
            problems.append(
                Problem(
                    f"{at}.tls.hostedZoneId",
                    "tls.mode 'acm' needs tls.hostedZoneId (to request and validate a certificate) "
                    "or tls.certificateArn (an existing certificate)",
                )
            )
        for key, value in (("certificate", tls.certificate), ("privateKey", tls.private_key)):
            if value is not None and ctx.usable(f"{at}.tls.{key}"):
                problems.append(
                    Problem(f"{at}.tls.{key}", "is only used with tls.mode 'nginx'; remove it or set tls.mode: nginx")
                )
        return problems
    if tls.certificate is None and ctx.usable(f"{at}.tls.certificate"):
        problems.append(
            Problem(f"{at}.tls.certificate", "tls.mode 'nginx' needs the PEM certificate chain for the base URL's host")
        )
    if tls.private_key is None and ctx.usable(f"{at}.tls.privateKey"):
        problems.append(
            Problem(
                f"{at}.tls.privateKey",
                "tls.mode 'nginx' needs the certificate's PEM private key, set as a secret: "
                f"pulumi config set --path --secret '{at}.tls.privateKey' < key.pem",
            )
        )
    if tls.certificate_arn is not None and ctx.usable(f"{at}.tls.certificateArn"):
        problems.append(
            Problem(
                f"{at}.tls.certificateArn",
                "is only used with tls.mode 'acm' (ACM certificates cannot be exported to nginx)",
            )
        )
    problems += _certificate_host_problems(ctx, i, mirror)
    return problems


def _certificate_host_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """nginx serves the chain's first certificate for the base URL's host: it must name that host."""
    at = f"mirrors[{i}]"
    if mirror.tls.certificate is None or not ctx.usable(f"{at}.tls.certificate", f"{at}.baseUrl"):
        return []
    host = (urlsplit(mirror.base_url).hostname or "").lower()
    server = pem_certificates(mirror.tls.certificate, "the certificate chain")[0]
    try:
        names = names_of(server)
    except ValueError:
        return [
            Problem(
                f"{at}.tls.certificate",
                "the first certificate's subjectAltName cannot be read; give the "
                f"certificate chain for {host}, the server's certificate first",
            )
        ]
    if any(covers(name, host) for name in names):
        return []
    named = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") if names else "no DNS name"
    return [
        Problem(
            f"{at}.tls.certificate",
            f"the first certificate (the one nginx serves) names {named}, not {host} (the host of "
            f"{at}.baseUrl): clients would refuse it; give the chain for {host}, the server's certificate first",
        )
    ]


def _size_problems(ctx: Context, i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    at = f"mirrors[{i}]"
    if not ctx.usable(f"{at}.instanceType"):
        return []
    try:
        size = size_of(mirror.instance_type)
        if size.vcpus < MIN_VCPUS or size.memory_gib < MIN_MEMORY_GIB:
            return [
                Problem(
                    f"{at}.instanceType",
                    f"'{mirror.instance_type}' has {size.vcpus} vCPU / {size.memory_gib:g} GiB; a mirror "
                    f"needs at least {MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB (e.g. m6i.large, m6i.xlarge)",
                )
            ]
    except UnknownInstanceType:
        warn(
            f"{at}.instanceType: '{mirror.instance_type}' is not in the size table; make sure it has at least "
            f"{MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB"
        )
    except ValueError as exc:
        return [Problem(f"{at}.instanceType", str(exc))]
    return []


_ARCHIVE_VERSION = re.compile(rf"atlassian-bitbucket-({VERSION.pattern.strip('^$')})\.tar\.gz$")


def _installer_version_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """An installer pinned to one version's archive cannot install another: the unpacked tree would
    hold no directory of the configured version, and every node's preflight would fail."""
    at = f"mirrors[{i}].installer.url"
    if mirror.installer is None or not ctx.usable(at, f"mirrors[{i}].bitbucketVersion"):
        return []
    named = _ARCHIVE_VERSION.search(urlsplit(mirror.installer.url).path)
    if named is None or named.group(1) == mirror.bitbucket_version:
        return []
    return [
        Problem(
            at,
            f"is the archive of Bitbucket {named.group(1)}, but mirrors[{i}].bitbucketVersion is "
            f"{mirror.bitbucket_version}: change installer.url (and installer.sha256) to the "
            f"{mirror.bitbucket_version} archive together with bitbucketVersion",
        )
    ]


def _mirror_problems(ctx: Context, i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    at = f"mirrors[{i}]"
    problems = _tls_problems(ctx, i, mirror) + _installer_version_problems(ctx, i, mirror)
    if ctx.usable(f"{at}.mirrorAll", f"{at}.projects") and mirror.mirror_all and mirror.projects:
        problems.append(
            Problem(f"{at}.mirrorAll", "mirrorAll: true mirrors every project; remove either mirrorAll or projects")
        )
    problems += _size_problems(ctx, i, mirror, warn)
    if (
        ctx.usable(f"{at}.restoreFrom", f"{at}.bitbucketVersion")
        and mirror.restore_from is not None
        and mirror.restore_from != mirror.bitbucket_version
    ):
        problems.append(
            Problem(
                f"{at}.restoreFrom",
                f"'{mirror.restore_from}' is not bitbucketVersion ('{mirror.bitbucket_version}'): a "
                f"restore goes back to the version its snapshots hold, so set bitbucketVersion to "
                f"{mirror.restore_from} as well, or remove restoreFrom to upgrade",
            )
        )
    if ctx.usable(f"{at}.projects"):
        seen = set()
        for j, key in enumerate(mirror.projects):
            if key in seen:
                problems.append(Problem(f"{at}.projects[{j}]", f"'{key}' is listed twice; remove this entry"))
            seen.add(key)
    return problems


def stack_problems(
    stack: StackModel, warn: Callable[[str], None], aws_region: Optional[str] = None, failed: Iterable[str] = ()
) -> list[Problem]:
    ctx = Context(stack, aws_region, frozenset(failed))
    scm = scm_suffix_warning(stack.primary.url) if stack.primary is not None and ctx.usable("primary.url") else None
    if scm:
        warn(scm)
    problems = _network_cidr_problems(ctx, "network", stack.network) if stack.network else []
    problems += _primary_cidr_problems(ctx)
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for i, mirror in ctx.mirrors():
        problems += _mirror_problems(ctx, i, mirror, warn)
        problems += _certificate_region_problems(ctx, i, mirror)
        problems += _kms_region_problems(ctx, i, mirror)
        problems += _placement_region_problems(ctx, i, mirror)
        problems += _monitoring_problems(ctx, i, mirror)
        problems += _base_url_host_problems(ctx, i, mirror)
        if mirror.network is not None:
            problems += _network_cidr_problems(ctx, f"mirrors[{i}].network", mirror.network)
        if ctx.usable(f"mirrors[{i}].name"):
            if mirror.name in names:
                problems.append(
                    Problem(
                        f"mirrors[{i}].name",
                        f"'{mirror.name}' is already used by mirrors[{names[mirror.name]}]; names must "
                        "be unique: give this mirror another name",
                    )
                )
            names.setdefault(mirror.name, i)
        if ctx.usable(f"mirrors[{i}].baseUrl"):
            url = normalise_base_url(mirror.base_url)
            if url in urls:
                problems.append(
                    Problem(
                        f"mirrors[{i}].baseUrl",
                        f"'{mirror.base_url}' is the same URL as mirrors[{urls[url]}].baseUrl; "
                        "each mirror needs its own base URL",
                    )
                )
            urls.setdefault(url, i)
    return problems
