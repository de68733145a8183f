"""Rules that compare fields, or mirrors, with each other (field rules live in `model.py`)."""
from __future__ import annotations

import ipaddress
from typing import Callable, Optional
from urllib.parse import urlsplit

from .errors import Problem
from .instance_types import MIN_MEMORY_GIB, MIN_VCPUS, UnknownInstanceType, size_of
from .model import Mirror, Network, StackModel
from .sites import inherited_placement_keys, site_monitoring


def normalised_base_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    port = "" if parts.port in (None, 443) else f":{parts.port}"
    return f"https://{host}{port}{parts.path.rstrip('/')}"


def _admin_cidr_problems(at: str, network: Network) -> list[Problem]:
    return [Problem(f"{at}.adminCidrs[{i}]",
                    f"'{cidr}' opens SSH to the whole internet; expected your admin addresses "
                    "(e.g. 198.51.100.7/32) or use network.bastion")
            for i, cidr in enumerate(network.admin_cidrs) if ipaddress.ip_network(cidr).prefixlen == 0]


def _region_problems(i: int, mirror: Mirror, stack: StackModel, aws_region: Optional[str]) -> list[Problem]:
    return _certificate_region_problems(i, mirror, aws_region) + _placement_region_problems(i, mirror, stack, aws_region)


def _certificate_region_problems(i: int, mirror: Mirror, aws_region: Optional[str]) -> list[Problem]:
    """A load balancer can only use an ACM certificate of its own region."""
    arn, region = mirror.tls.certificate_arn, mirror.region or aws_region
    if arn is None or region is None or arn.split(":")[3] == region:
        return []
    return [Problem(f"mirrors[{i}].tls.certificateArn",
                    f"the certificate is in {arn.split(':')[3]}, but mirrors[{i}] ({mirror.name}) runs in {region}: "
                    "a load balancer can only use an ACM certificate of its own region; import or request the "
                    f"certificate in {region}, or leave certificateArn out and set tls.hostedZoneId to have one created")]


def _placement_region_problems(i: int, mirror: Mirror, stack: StackModel, aws_region: Optional[str]) -> list[Problem]:
    at = f"mirrors[{i}]"
    if mirror.region is None:
        if aws_region is None:
            return [Problem(f"{at}.region", "no region: set aws:region for the stack "
                                            f"(pulumi config set aws:region <region>) or {at}.region for this site")]
        return []
    # The stack-wide ids name resources of one region: aws:region's, or without it the first site's
    # that uses them.
    owner, named = aws_region, "the stack's aws:region"
    if owner is None:
        users = [(k, m) for k, m in enumerate(stack.mirrors) if inherited_placement_keys(m, stack.network)]
        if users:
            k, first = users[0]
            owner, named = first.region, f"mirrors[{k}].region"
    if owner is None or mirror.region == owner:
        return []
    return [Problem(f"{at}.region",
                    f"'{mirror.region}' differs from {named} '{owner}', but the site would use "
                    f"network.{key}, which names {owner} resources: set {at}.network.{key} for {mirror.region} "
                    f"(or {at}.network.vpcId: null and subnetIds: [] for that region's default VPC)")
            for key in inherited_placement_keys(mirror, stack.network)]


def _monitoring_problems(i: int, mirror: Mirror, stack: StackModel, aws_region: Optional[str]) -> list[Problem]:
    monitoring = site_monitoring(stack.monitoring, mirror.monitoring)
    if monitoring is None:
        return []
    own = mirror.monitoring.model_fields_set if mirror.monitoring is not None else set()

    def key(field: str, name: str) -> str:
        return f"mirrors[{i}].monitoring.{name}" if field in own else f"monitoring.{name}"

    problems = []
    region = mirror.region or aws_region
    topic = monitoring.alarm_topic_arn
    if topic is not None and region and topic.split(":")[3] != region:
        problems.append(Problem(key("alarm_topic_arn", "alarmTopicArn"),
                                f"the topic is in {topic.split(':')[3]}, but mirrors[{i}] ({mirror.name}) runs in {region}: "
                                "CloudWatch alarms notify topics in their own region; give a topic in that region "
                                f"(mirrors[{i}].monitoring.alarmTopicArn) or leave it out to get one created"))
    if topic is not None and monitoring.emails:
        problems.append(Problem(key("emails", "emails"),
                                f"subscribes to the topics the stack creates, but {key('alarm_topic_arn', 'alarmTopicArn')} "
                                "names your own: subscribe the addresses to that topic, or remove one of the two keys"))
    if monitoring.jmx_exporter and not monitoring.metrics_cidrs:
        # Named where the exporter was turned on: that is where the addresses belong.
        problems.append(Problem(key("jmx_exporter", "metricsCidrs"),
                                "jmxExporter: true needs the addresses allowed to scrape it on 9404 "
                                "(e.g. your Prometheus server's /32)"))
    if monitoring.metrics_cidrs and not monitoring.jmx_exporter:
        problems.append(Problem(key("metrics_cidrs", "metricsCidrs"),
                                "is only used with jmxExporter: true; remove it or turn the exporter on"))
    for j, cidr in enumerate(monitoring.metrics_cidrs):
        if ipaddress.ip_network(cidr).prefixlen == 0:
            problems.append(Problem(f"{key('metrics_cidrs', 'metricsCidrs')}[{j}]",
                                    f"'{cidr}' opens the JVM's metrics to the whole internet; expected your "
                                    "monitoring servers' addresses"))
    return problems


def stack_problems(stack: StackModel, warn: Callable[[str], None], aws_region: Optional[str] = None) -> list[Problem]:
    problems = _admin_cidr_problems("network", stack.network)
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for i, mirror in enumerate(stack.mirrors):
        problems += _mirror_problems(i, mirror, warn)
        problems += _region_problems(i, mirror, stack, aws_region)
        problems += _monitoring_problems(i, mirror, stack, aws_region)
        if mirror.network is not None:
            problems += _admin_cidr_problems(f"mirrors[{i}].network", mirror.network)
        if mirror.name in names:
            problems.append(Problem(f"mirrors[{i}].name",
                                    f"'{mirror.name}' is already used by mirrors[{names[mirror.name]}]; names must be unique"))
        names.setdefault(mirror.name, i)
        url = normalised_base_url(mirror.base_url)
        if url in urls:
            problems.append(Problem(f"mirrors[{i}].baseUrl",
                                    f"'{mirror.base_url}' is the same URL as mirrors[{urls[url]}].baseUrl; "
                                    "each mirror needs its own base URL"))
        urls.setdefault(url, i)
    return problems


# Target group names: '<name>-https-' + 7 random characters (Pulumi's auto-naming) <= 32 (AWS).
MAX_LOAD_BALANCED_NAME = 32 - len("-https-") - 7


def _mirror_problems(i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    at = f"mirrors[{i}]"
    problems = []
    tls = mirror.tls
    if mirror.nodes > 1 and tls.mode == "nginx":
        problems.append(Problem(f"{at}.tls.mode",
                                f"a mirror farm (nodes: {mirror.nodes}) needs tls.mode 'acm': the farm sits behind "
                                "one load balancer; nginx mode serves a single node"))
    if tls.mode == "acm":
        if len(mirror.name) > MAX_LOAD_BALANCED_NAME:
            problems.append(Problem(f"{at}.name",
                                    f"'{mirror.name}' has {len(mirror.name)} characters; with tls.mode 'acm' at most "
                                    f"{MAX_LOAD_BALANCED_NAME}: the load balancer's target groups are named "
                                    f"'{mirror.name}-https-' plus 7 random characters, and AWS allows 32"))
        if not tls.hosted_zone_id and not tls.certificate_arn:
            problems.append(Problem(f"{at}.tls.hostedZoneId",
                                    "tls.mode 'acm' needs tls.hostedZoneId (to request and validate a certificate) "
                                    "or tls.certificateArn (an existing certificate)"))
        for key, value in (("certificate", tls.certificate), ("privateKey", tls.private_key)):
            if value is not None:
                problems.append(Problem(f"{at}.tls.{key}", "is only used with tls.mode 'nginx'; remove it or set tls.mode: nginx"))
    else:
        if tls.certificate is None:
            problems.append(Problem(f"{at}.tls.certificate", "tls.mode 'nginx' needs the PEM certificate chain for the base URL's host"))
        if tls.private_key is None:
            problems.append(Problem(f"{at}.tls.privateKey",
                                    "tls.mode 'nginx' needs the certificate's PEM private key, set as a secret: "
                                    f"pulumi config set --path --secret '{at}.tls.privateKey' < key.pem"))
        if tls.certificate_arn is not None:
            problems.append(Problem(f"{at}.tls.certificateArn", "is only used with tls.mode 'acm' (ACM certificates cannot be exported to nginx)"))
    if mirror.mirror_all and mirror.projects:
        problems.append(Problem(f"{at}.mirrorAll",
                                "mirrorAll: true mirrors every project; remove either mirrorAll or projects"))
    try:
        size = size_of(mirror.instance_type)
        if size.vcpus < MIN_VCPUS or size.memory_gib < MIN_MEMORY_GIB:
            problems.append(Problem(f"{at}.instanceType",
                                    f"'{mirror.instance_type}' has {size.vcpus} vCPU / {size.memory_gib:g} GiB; a mirror "
                                    f"needs at least {MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB (e.g. m6i.large, m6i.xlarge)"))
    except UnknownInstanceType:
        warn(f"{at}.instanceType: '{mirror.instance_type}' is not in the size table; make sure it has at least "
             f"{MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB")
    except ValueError as exc:
        problems.append(Problem(f"{at}.instanceType", str(exc)))
    seen = set()
    for j, key in enumerate(mirror.projects):
        if key in seen:
            problems.append(Problem(f"{at}.projects[{j}]", f"'{key}' is listed twice"))
        seen.add(key)
    return problems
