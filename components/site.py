"""MirrorSite: everything one configured mirror needs, from hosts to mirrored projects.

Nodes (one, or a farm), its security groups, TLS (ACM on a load balancer, or nginx on the node),
DNS, and the provider chain that makes it a mirror: MirrorSetup (preflight the primary, render
the setup keys) -> install on every node -> MirrorApproval (accept its request on the primary)
-> MirroredProjects (exactly the configured projects, or all). A farm is approved once.
"""

from __future__ import annotations

import ipaddress
from typing import Optional, Sequence
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from facts import types
from facts.hosts import needs_public_endpoint
from providers.mirror_approval import MirrorApproval, MirrorApprovalArgs
from providers.mirror_generation import MirrorGeneration, MirrorGenerationArgs
from providers.mirrored_projects import MirroredProjects, MirroredProjectsArgs
from stack_config import Network

from . import tags as tagging
from .host import MirrorHost
from .load_balancer import MirrorLoadBalancer, MirrorLoadBalancerArgs
from .monitoring import LoadBalancerMetrics, MirrorAlarms, MirrorAlarmsArgs
from .network import BITBUCKET_SSH, MirrorNetwork, MirrorNetworkArgs
from .rollout import FarmRollout
from .site_args import MirrorSiteArgs
from .site_plan import SiteKeys, clustered_when, rollout_plan
from .tls import AcmCertificate, AcmCertificateArgs, certificate_source


class MirrorSite(pulumi.ComponentResource):
    """One configured mirror, everything it needs: its network, TLS, nodes, load balancer (ACM) or
    nginx, rollout, approval, mirrored projects and alarms. Its outputs are what a user connects to
    (`url`, `ssh_url`, `ssh_known_hosts`) and what operators reach the nodes by.

    Built in phases, each a method: network, keys, TLS and load balancer (`_front_door`), the
    rollout's plan and the rollout, DNS, approval and projects, alarms, outputs. Every resource is a
    child of the site under the name it always had: a change here must keep every URN
    (tests/components/test_urns_kept.py)."""

    url: pulumi.Output[str]
    ssh_url: pulumi.Output[str]
    ssh_host_key: pulumi.Output[str]
    ssh_known_hosts: pulumi.Output[str]
    mirror_id: pulumi.Output[str]
    node_addresses: pulumi.Output[list[str]]
    node_sessions: pulumi.Output[list[str]]
    region: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorSiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.SITE, name, None, opts)
        mirror, network = args.mirror, args.network
        host = urlsplit(mirror.base_url).hostname or ""
        behind_lb = mirror.tls.mode == "acm"
        clustered = clustered_when(behind_lb)
        tags = tagging.site_tags(args.stack, name)
        # Preview warnings name the site: its URN, as the engine knows it.
        warn_to = types.urn(args.stack, pulumi.get_project(), [types.SITE], name)
        public = needs_public_endpoint(tuple(network.client_cidrs) + tuple(args.primary.cidrs))

        net = self._network(name, args, behind_lb, clustered, tags)
        # The primary and MirroredProjects reach the mirror by its base URL once it is approved.
        serving, lb = self._front_door(name, args, host, net, public, tags) if behind_lb else ([], None)
        keys = SiteKeys.create(name, args, tags, self)
        generation = self._generation(name, args, warn_to)
        plan = rollout_plan(self, name, args, net, keys, generation, lb, public, tags, warn_to)
        rollout = FarmRollout(plan, opts=pulumi.ResourceOptions(parent=self))
        hosts = rollout.hosts

        if mirror.tls.hosted_zone_id and not behind_lb:
            serving.append(
                aws.route53.Record(
                    f"{name}-dns",
                    zone_id=mirror.tls.hosted_zone_id,
                    name=host,
                    type="A",
                    # The node's public address changes on every stop and start (an instance type, a
                    # boot change): clients and the providers follow it within a minute, not five.
                    # Where it answers after its instance step (the instance's own output keeps the
                    # address it was given).
                    ttl=60,
                    records=[rollout.addresses[0]],
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        approval = self._approval(name, args, rollout, generation, clustered, [*serving, *net.https_path])
        if args.monitoring is not None and args.alarm_topic_arn is not None:
            MirrorAlarms(
                name,
                MirrorAlarmsArgs(
                    stack=args.stack,
                    site=name,
                    region=args.region,
                    monitoring=args.monitoring,
                    topic_arn=args.alarm_topic_arn,
                    hosts=hosts,
                    installs=rollout.installs,
                    tags=tags,
                    load_balancer=LoadBalancerMetrics(lb.arn_suffix, lb.target_group_arn_suffixes) if lb else None,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self._outputs(args, host, keys, approval, hosts)

    def _network(
        self, name: str, args: MirrorSiteArgs, behind_lb: bool, clustered: bool, tags: dict[str, str]
    ) -> MirrorNetwork:
        """The site's security groups: who may reach the nodes (and the load balancer) on what."""
        network, monitoring = args.network, args.monitoring
        return MirrorNetwork(
            name,
            MirrorNetworkArgs(
                placement=args.placement,
                client_cidrs=tuple(network.client_cidrs),
                primary_cidrs=tuple(args.primary.cidrs),
                admin_cidrs=tuple(network.admin_cidrs) + _bastion_cidr(network),
                primary_ssh_port=args.primary.ssh_port,
                behind_load_balancer=behind_lb,
                farm=clustered,
                egress_http=args.mirror.os == "ubuntu",
                tags=tags,
                metrics_cidrs=tuple(monitoring.metrics_cidrs) if monitoring and monitoring.jmx_exporter else (),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _generation(self, name: str, args: MirrorSiteArgs, warn_to: str) -> MirrorGeneration:
        """A new setup (display name, base URL, primary URL) or leaving mirror-all needs a new mirror:
        the generation changes, every home of the site is replaced, the mirror is set up anew."""
        mirror = args.mirror
        return MirrorGeneration(
            f"{name}-generation",
            MirrorGenerationArgs(
                display_name=mirror.effective_display_name,
                base_url=mirror.base_url,
                primary_url=args.primary.url,
                mirror_all=mirror.mirror_all,
                kms_key_arn=args.site.kms_key_arn,
                config_key=f"mirrors[{args.site.index}]",
                warn_to=warn_to,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _approval(
        self,
        name: str,
        args: MirrorSiteArgs,
        rollout: FarmRollout,
        generation: MirrorGeneration,
        clustered: bool,
        serving: Sequence[pulumi.Resource],
    ) -> MirrorApproval:
        """The mirror registers with the primary on its first node's first start; once that node is
        back (healthy: the load balancer sends clients to it alone) it is approved and serves, while
        the farm's other nodes join after it. Then its projects are mirrored."""
        mirror, primary = args.mirror, args.primary
        approval = MirrorApproval(
            f"{name}-approval",
            MirrorApprovalArgs(
                primary_url=primary.url,
                base_url=mirror.base_url,
                timeout_s=mirror.approval_timeout_s,
                ca_bundle=primary.ca_bundle,
                expected_type="FARM" if clustered else "SINGLE",
                home_zone=rollout.hosts[0].home_zone,
                generation=generation.generation,
                display_name=mirror.effective_display_name,
                version=mirror.bitbucket_version,
                timeout_key=f"mirrors[{args.site.index}].approvalTimeoutS",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rollout.first_back, *serving]),
        )
        MirroredProjects(
            f"{name}-projects",
            MirroredProjectsArgs(
                primary_url=primary.url,
                mirror_url=mirror.base_url,
                mirror_id=approval.mirror_id,
                project_keys=list(mirror.projects),
                mirror_all=mirror.mirror_all,
                wait_for_sync=mirror.wait_for_sync,
                sync_timeout_s=mirror.sync_timeout_s,
                ca_bundle=primary.ca_bundle,
                sync_timeout_key=f"mirrors[{args.site.index}].syncTimeoutS",
                wait_key=f"mirrors[{args.site.index}].waitForSync",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[approval]),
        )
        return approval

    def _outputs(
        self, args: MirrorSiteArgs, host: str, keys: SiteKeys, approval: MirrorApproval, hosts: Sequence[MirrorHost]
    ) -> None:
        self.url = pulumi.Output.from_input(args.mirror.base_url.rstrip("/"))
        self.ssh_url = pulumi.Output.from_input(f"ssh://git@{host}:{BITBUCKET_SSH}")
        self.ssh_host_key = keys.ssh_key.public_key_openssh.apply(lambda k: k.strip())
        self.ssh_known_hosts = self.ssh_host_key.apply(lambda k: known_hosts_line(host, k))
        self.mirror_id = approval.mirror_id
        self.node_addresses = pulumi.Output.all(*[h.private_ip for h in hosts])
        self.node_sessions = pulumi.Output.all(*[h.session for h in hosts])
        self.region = pulumi.Output.from_input(args.region)
        self.register_outputs(
            {
                "url": self.url,
                "ssh_url": self.ssh_url,
                "ssh_host_key": self.ssh_host_key,
                "ssh_known_hosts": self.ssh_known_hosts,
                "mirror_id": self.mirror_id,
                "node_addresses": self.node_addresses,
                "node_sessions": self.node_sessions,
                "region": self.region,
            }
        )

    def _front_door(
        self, name: str, args: MirrorSiteArgs, host: str, net: MirrorNetwork, public: bool, tags: dict[str, str]
    ) -> tuple[list[pulumi.Resource], MirrorLoadBalancer]:
        """ACM certificate, network load balancer and its alias record: what clients connect to."""
        child = pulumi.ResourceOptions(parent=self)
        tls_config = args.mirror.tls
        certificate = AcmCertificate(
            f"{name}-tls",
            AcmCertificateArgs(region=args.region, host=host, source=certificate_source(tls_config)),
            opts=child,
        )
        lb = MirrorLoadBalancer(
            name,
            MirrorLoadBalancerArgs(
                region=args.region,
                subnet_ids=args.placement.subnet_ids,
                vpc_id=args.placement.vpc_id,
                security_group_id=net.lb_security_group_id,
                certificate_arn=certificate.certificate_arn,
                internal=not public,
                tags=tags,
            ),
            opts=child,
        )
        serving: list[pulumi.Resource] = [lb]
        if tls_config.hosted_zone_id:
            serving.append(
                aws.route53.Record(
                    f"{name}-dns",
                    zone_id=tls_config.hosted_zone_id,
                    name=host,
                    type="A",
                    aliases=[
                        aws.route53.RecordAliasArgs(name=lb.dns_name, zone_id=lb.zone_id, evaluate_target_health=True)
                    ],
                    opts=child,
                )
            )
        return serving, lb


def known_hosts_line(host: str, public_key: str) -> str:
    """The line for clients' ~/.ssh/known_hosts (OpenSSH's [host]:port form for a port other than 22)."""
    return f"[{host}]:{BITBUCKET_SSH} {' '.join(public_key.split()[:2])}"


def _bastion_cidr(network: Network) -> tuple[str, ...]:
    """The bastion may reach SSH when its host is an address literal; otherwise adminCidrs must cover it."""
    if network.bastion is None:
        return ()
    try:
        address = ipaddress.ip_address(network.bastion.host)
    except ValueError:
        return ()
    return (f"{address}/{address.max_prefixlen}",)
