"""TLS for a site behind the load balancer: an ACM certificate for the base URL's host.

Either an existing certificate (`tls.certificateArn`) or a new one validated through Route53 DNS
records in `tls.hostedZoneId`. (nginx mode needs no AWS resource: its certificate and key go to
the host, see `install.py`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union, cast

import pulumi
import pulumi_aws as aws

from facts import types
from stack_config import Tls

from . import tags as tagging


@dataclass(frozen=True)
class ExistingCertificate:
    """tls.certificateArn: an ACM certificate the user manages (the site only serves it)."""

    # The certificate's ARN: a new one changes the listener in place.
    arn: str


@dataclass(frozen=True)
class DnsValidatedCertificate:
    """tls.hostedZoneId without a certificateArn: an ACM certificate the site requests and validates."""

    # Where the validation records go: a new zone re-validates.
    hosted_zone_id: str


@dataclass(frozen=True)
class AcmCertificateArgs:
    """The certificate a site's load balancer serves (components/tls.py AcmCertificate)."""

    # The load balancer's: ACM certificates serve only their own region.
    region: str
    # The base URL's host: the certificate's name (a new one requests a new certificate).
    host: str
    # Which of the two the config chose; it refuses a site with neither (tls.hostedZoneId).
    source: Union[ExistingCertificate, DnsValidatedCertificate]


class AcmCertificate(pulumi.ComponentResource):
    """The certificate a site's load balancer serves: the one tls.certificateArn names, or one requested
    and validated in tls.hostedZoneId. `certificate_arn` resolves once it is issued."""

    certificate_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AcmCertificateArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.TLS, name, None, opts)
        if isinstance(args.source, ExistingCertificate):
            self.certificate_arn = pulumi.Output.from_input(args.source.arn)
        else:
            child = pulumi.ResourceOptions(parent=self)
            certificate = aws.acm.Certificate(
                f"{name}-cert",
                domain_name=args.host,
                validation_method="DNS",
                tags={tagging.NAME: args.host},
                region=args.region,
                opts=child,
            )
            # One domain, so exactly one validation option: index it rather than creating records in
            # an apply, which previews could not show.
            option = certificate.domain_validation_options[0]
            record = aws.route53.Record(
                f"{name}-cert-validation",
                zone_id=args.source.hosted_zone_id,
                name=option.resource_record_name,
                type=option.resource_record_type,
                records=[option.resource_record_value],
                ttl=300,
                allow_overwrite=True,
                opts=child,
            )
            validation = aws.acm.CertificateValidation(
                f"{name}-cert-validation",
                certificate_arn=certificate.arn,
                validation_record_fqdns=[record.fqdn],
                region=args.region,
                opts=child,
            )
            # Listeners use the validated ARN, so they wait until the certificate is issued.
            self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})


def certificate_source(tls: Tls) -> Union[ExistingCertificate, DnsValidatedCertificate]:
    """The certificate an acm site's config chose. The config refuses tls.mode 'acm' with neither
    key (stack_config/rules.py), so without certificateArn the zone is there."""
    if tls.certificate_arn:
        return ExistingCertificate(tls.certificate_arn)
    return DnsValidatedCertificate(cast(str, tls.hosted_zone_id))
