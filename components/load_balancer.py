"""The network load balancer of a site: TLS 443 (ACM) -> nodes' 7990, TCP 7999 -> nodes' 7999.

Health checks ask Bitbucket's `/status` on 7990 for both target groups, so SSH traffic only goes
to nodes whose application is up. Hazelcast (5701) is never exposed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from facts import types

from . import tags as tagging
from .network import BITBUCKET_HTTP, BITBUCKET_SSH, HTTPS

# TLS 1.3 with TLS 1.2 fallback and forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# Every node of a rollout waits for its return to healthy (NodeReturn), so the time to healthy,
# interval x healthy threshold, is paid once per node: 10 s x 2 = 20 s (it was 15 s x 3 = 45 s).
# NLB target groups take an interval of 5-300 s, thresholds of 2-10 each, which need not be equal,
# and a timeout of 2-120 s (NLB guide, "Health checks for Network Load Balancer target groups",
# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html,
# whose defaults are 5 and 2: configurable since AWS's November 2022 "Elastic Load Balancing
# capabilities for application availability", as quoted in aws/aws-cdk#26023; aws-cdk dropped its
# equal-thresholds check for it, aws/aws-cdk#26949). The timeout is left to AWS's default for an
# HTTP check, 6 s, under the interval.
# Out of service only after 3 failed checks (about 30 s of /status not answering): a GC pause or a
# slow answer under load does not eject a serving node; a node that leaves on purpose is
# deregistered and drained first, so this figure costs a rollout nothing.
HEALTH_CHECK_INTERVAL_S = 10
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 3


@dataclass(frozen=True)
class MirrorLoadBalancerArgs:
    """What a site's network load balancer is built from (tls.mode acm): TLS on 443 with the ACM
    certificate, TCP on 7999 for SSH, each to a target group of the site's nodes."""

    # The region of the balancer, its target groups and listeners.
    region: str
    # The subnets it spans (the site's placement): a new set changes the balancer in place.
    subnet_ids: pulumi.Input[Sequence[str]]
    # The VPC of its target groups: a new one replaces them.
    vpc_id: pulumi.Input[str]
    # Its security group (MirrorNetwork.lb_security_group_id).
    security_group_id: pulumi.Input[str]
    # The certificate the TLS listener serves (AcmCertificate.certificate_arn).
    certificate_arn: pulumi.Input[str]
    # Internal (no public address) when every client and the primary are private: a change replaces it.
    internal: bool
    # The site's tags, on the balancer and its target groups.
    tags: dict[str, str]


class MirrorLoadBalancer(pulumi.ComponentResource):
    """A site's network load balancer (tls.mode acm): TLS on 443 to the nodes' HTTP, TCP 7999 to their
    SSH, a target group each. `attach` registers the nodes; `node_attachments[i]` is node i's, which
    its drain waits for. Clients follow `dns_name` (the site's alias record)."""

    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.LOAD_BALANCER, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb = aws.lb.LoadBalancer(
            f"{name}-nlb",
            load_balancer_type="network",
            internal=args.internal,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            enable_cross_zone_load_balancing=True,
            tags=tagging.named(args.tags, f"{name}-nlb"),
            region=args.region,
            opts=child,
        )
        health = aws.lb.TargetGroupHealthCheckArgs(
            protocol="HTTP",
            port=str(BITBUCKET_HTTP),
            path="/status",
            matcher="200",
            interval=HEALTH_CHECK_INTERVAL_S,
            healthy_threshold=HEALTHY_THRESHOLD,
            unhealthy_threshold=UNHEALTHY_THRESHOLD,
        )
        listeners = [
            # (label, listener port, protocol, target port)
            ("https", HTTPS, "TLS", BITBUCKET_HTTP),
            ("ssh", BITBUCKET_SSH, "TCP", BITBUCKET_SSH),
        ]
        self.target_group_arn_suffixes: dict[str, pulumi.Output[str]] = {}
        # Per node, its attachments (each node is registered in every target group): see attach().
        self.node_attachments: list[list[aws.lb.TargetGroupAttachment]] = []
        self._name, self._region = name, args.region
        # (label, arn, port) per target group: the listeners', the attachments' and draining's view.
        self._groups: list[tuple[str, pulumi.Output[str], int]] = []
        for label, port, protocol, target_port in listeners:
            group = aws.lb.TargetGroup(
                f"{name}-{label}",
                port=target_port,
                protocol="TCP",
                target_type="instance",
                vpc_id=args.vpc_id,
                health_check=health,
                # Git operations are long; let them finish when a node leaves.
                deregistration_delay=300,
                tags=tagging.named(args.tags, f"{name}-{label}"),
                region=args.region,
                opts=child,
            )
            self.target_group_arn_suffixes[label] = group.arn_suffix
            self._groups.append((label, group.arn, target_port))
            aws.lb.Listener(
                f"{name}-{label}",
                load_balancer_arn=lb.arn,
                port=port,
                protocol=protocol,
                certificate_arn=args.certificate_arn if protocol == "TLS" else None,
                ssl_policy=TLS_POLICY if protocol == "TLS" else None,
                default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=group.arn)],
                region=args.region,
                opts=child,
            )
        # The target groups a node is registered in, as draining needs them: [{arn, port}].
        self.target_groups = pulumi.Output.all(*[arn for _, arn, _ in self._groups]).apply(
            lambda arns: [{"arn": arn, "port": port} for arn, (_, _, port) in zip(arns, self._groups)]
        )
        self.arn_suffix = lb.arn_suffix  # what CloudWatch's AWS/NetworkELB dimensions name
        self.dns_name = lb.dns_name
        self.zone_id = lb.zone_id
        self.register_outputs({"dns_name": self.dns_name, "zone_id": self.zone_id})

    def attach(self, instance_ids: Sequence[pulumi.Input[str]]) -> None:
        """Register every node in every target group. Separate from the constructor: the nodes'
        rollout steps need the target groups before the instances exist."""
        child = pulumi.ResourceOptions(parent=self)
        self.node_attachments = [
            [
                aws.lb.TargetGroupAttachment(
                    f"{self._name}-{label}-node{i}",
                    target_group_arn=arn,
                    target_id=instance_id,
                    port=port,
                    region=self._region,
                    opts=child,
                )
                for label, arn, port in self._groups
            ]
            for i, instance_id in enumerate(instance_ids)
        ]
