"""Cross-field rules of a mirror's HTTPS: its tls.mode against its nodes and keys, its certificate
against its host and region, its host against the primary's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .certificates import covers, names_of, pem_certificates
from .errors import Problem
from .model import Mirror
from .rule_context import Context


def base_url_host_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
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


def certificate_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
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


# Target group names: '<name>-https-' + 7 random characters (Pulumi's auto-naming) <= 32 (AWS).
MAX_LOAD_BALANCED_NAME = 32 - len("-https-") - 7


def tls_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
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
