"""MirrorSite: everything one configured mirror needs, from hosts to mirrored projects.

Nodes (one, or a farm), its security groups, TLS (ACM on a load balancer, or nginx on the node),
DNS, and the provider chain that makes it a mirror: MirrorSetup (preflight the primary, render
the setup keys) -> install on every node -> MirrorApproval (accept its request on the primary)
-> MirroredProjects (exactly the configured projects, or all). A farm is approved once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pulumi_tls as tls

from facts import types
from facts.hosts import needs_public_endpoint
from providers.mirror_approval import MirrorApproval, MirrorApprovalArgs
from providers.mirror_generation import MirrorGeneration, MirrorGenerationArgs
from providers.mirror_setup import MirrorSetup, MirrorSetupArgs
from providers.mirrored_projects import MirroredProjects, MirroredProjectsArgs
from stack_config import Mirror, Monitoring, Network, Primary, Site, secret_output
from stack_config.instance_types import architecture_of

from . import tags as tagging
from .ami import current_ami
from .host import MirrorHost, MirrorHostArgs
from .install import FarmInputs, MirrorInstallArgs, NginxInputs
from .load_balancer import MirrorLoadBalancer, MirrorLoadBalancerArgs
from .monitoring import LoadBalancerMetrics, MirrorAlarms, MirrorAlarmsArgs
from .network import BITBUCKET_SSH, MirrorNetwork, MirrorNetworkArgs
from .region import Placement
from .restore import restored_home
from .rollout import FarmRollout, FarmRolloutArgs, instances_one_at_a_time
from .tls import AcmCertificate, AcmCertificateArgs, certificate_source


@dataclass(frozen=True)
class MirrorSiteArgs:
    site: Site
    primary: Primary
    placement: Placement
    stack: str
    # Where this site's alarms notify (its own topic, or the one created for its region).
    alarm_topic_arn: Optional[pulumi.Input[str]] = None

    @property
    def monitoring(self) -> Optional[Monitoring]:
        return self.site.monitoring

    @property
    def mirror(self) -> Mirror:
        return self.site.mirror

    @property
    def network(self) -> Network:
        return self.site.network

    @property
    def region(self) -> str:
        return self.site.region


class MirrorSite(pulumi.ComponentResource):
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
        mirror, primary, network = args.mirror, args.primary, args.network
        child = pulumi.ResourceOptions(parent=self)
        host = urlsplit(mirror.base_url).hostname or ""
        behind_lb = mirror.tls.mode == "acm"
        # Every site behind a load balancer is a farm, of one node or more: scaling it from one node
        # to two (or back) then changes no node's files, so no node restarts (nginx sites are single).
        clustered = behind_lb
        tags = tagging.site_tags(args.stack, name)
        # Preview warnings name the site: its URN, as the engine knows it.
        warn_to = types.urn(args.stack, pulumi.get_project(), [types.SITE], name)

        admin_cidrs = tuple(network.admin_cidrs) + _bastion_cidr(network)
        public = needs_public_endpoint(tuple(network.client_cidrs) + tuple(primary.cidrs))
        net = MirrorNetwork(
            name,
            MirrorNetworkArgs(
                placement=args.placement,
                client_cidrs=tuple(network.client_cidrs),
                primary_cidrs=tuple(primary.cidrs),
                admin_cidrs=admin_cidrs,
                primary_ssh_port=primary.ssh_port,
                behind_load_balancer=behind_lb,
                farm=clustered,
                egress_http=mirror.os == "ubuntu",
                tags=tags,
                metrics_cidrs=tuple(args.monitoring.metrics_cidrs)
                if args.monitoring and args.monitoring.jmx_exporter
                else (),
            ),
            opts=child,
        )

        login_key = tls.PrivateKey(f"{name}-login-key", algorithm="ED25519", opts=child)
        # One SSH host key for the site's Bitbucket (port 7999), the same on every node and kept across
        # rebuilds, scaling and upgrades: clients' known_hosts stays true. RSA: the kind Bitbucket makes.
        ssh_key = tls.PrivateKey(f"{name}-ssh-server-key", algorithm="RSA", rsa_bits=3072, opts=child)
        key_pair = aws.ec2.KeyPair(
            f"{name}-login", public_key=login_key.public_key_openssh, tags=tags, region=args.region, opts=child
        )
        # A new setup (display name, base URL, primary URL) or leaving mirror-all needs a new mirror:
        # the generation changes, every home of the site is replaced, the mirror is set up anew.
        generation = MirrorGeneration(
            f"{name}-generation",
            MirrorGenerationArgs(
                display_name=mirror.effective_display_name,
                base_url=mirror.base_url,
                primary_url=primary.url,
                mirror_all=mirror.mirror_all,
                kms_key_arn=args.site.kms_key_arn,
                config_key=f"mirrors[{args.site.index}]",
                warn_to=warn_to,
            ),
            opts=child,
        )
        ami = current_ami(
            mirror.os, architecture_of(mirror.instance_type), args.region, pulumi.InvokeOptions(parent=self)
        )
        # Installing over SSH needs a reachable address: the public one unless a bastion is used.
        reach_publicly = network.bastion is None
        # The primary and MirroredProjects reach the mirror by its base URL once it is approved.
        serving, lb = self._front_door(name, args, host, net, public, tags) if behind_lb else ([], None)

        # A way back: each node's home created from its newest snapshot of that version.
        restore_from = mirror.restore_from
        restored = [
            restored_home(
                args.region, args.stack, name, f"{name}-node{i}", restore_from, pulumi.InvokeOptions(parent=self)
            )
            if restore_from
            else None
            for i in range(mirror.nodes)
        ]

        def node(i: int, wait_for: Sequence[pulumi.Resource]) -> MirrorHost:
            return MirrorHost(
                f"{name}-node{i}",
                MirrorHostArgs(
                    region=args.region,
                    ami_id=ami,
                    os=mirror.os,
                    instance_type=mirror.instance_type,
                    subnet_id=args.placement.subnet_ids.apply(lambda ids: ids[i % len(ids)]),
                    security_group_id=net.node_security_group_id,
                    key_name=key_pair.key_name,
                    home_volume_gb=mirror.home_volume_gb,
                    public_address=reach_publicly or (public and not behind_lb),
                    stack=args.stack,
                    tags=tags,
                    farm_tag=tagging.farm_tag(args.stack, name) if clustered else None,
                    # The rules its commands need outlive them: deleted after the instance.
                    instance_wait_for=[*wait_for, *net.node_access],
                    home_snapshot_id=restored[i].snapshot_id if restored[i] else None,
                    kms_key_arn=args.site.kms_key_arn,
                    permissions_boundary=args.site.iam_permissions_boundary_arn,
                ),
                opts=child,
            )

        hosts, instances_done = instances_one_at_a_time(name, args, lb, node, self, warn_to, clustered)

        setup = MirrorSetup(
            f"{name}-setup",
            MirrorSetupArgs(
                primary_url=primary.url,
                display_name=mirror.effective_display_name,
                base_url=mirror.base_url,
                ca_bundle=primary.ca_bundle,
            ),
            opts=child,
        )

        farm_inputs = None
        if clustered:
            password = random.RandomPassword(f"{name}-hazelcast", length=32, special=False, opts=child)
            tag_key, tag_value = tagging.farm_tag(args.stack, name)
            farm_inputs = FarmInputs(
                group_name=f"bitbucket-mirror-{name}",
                group_password=password.result,
                region=args.region,
                tag_key=tag_key,
                tag_value=tag_value,
            )
        nginx_inputs = None
        if mirror.tls.mode == "nginx":
            nginx_inputs = NginxInputs(
                server_name=host,
                certificate=mirror.tls.certificate or "",
                private_key=secret_output(mirror.tls.private_key),
            )
        install_args = [
            MirrorInstallArgs(
                host=node,
                login_private_key=login_key.private_key_openssh,
                bitbucket_version=mirror.bitbucket_version,
                base_url=mirror.base_url,
                setup_block=setup.properties,
                installer_url=mirror.installer.url if mirror.installer else None,
                installer_sha256=mirror.installer.sha256 if mirror.installer else None,
                ca_bundle=primary.ca_bundle,
                farm=farm_inputs,
                nginx=nginx_inputs,
                bastion=network.bastion,
                jmx_exporter=args.monitoring is not None and args.monitoring.jmx_exporter,
                generation=generation.generation,
                ssh_server_key=ssh_key.private_key_pem,
            )
            for node in hosts
        ]
        rollout = FarmRollout(
            name,
            FarmRolloutArgs(
                site=args,
                installs=install_args,
                load_balancer=lb,
                instances_done=instances_done,
                warn_to=warn_to,
                clustered=clustered,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        installs = rollout.installs

        if mirror.tls.hosted_zone_id and not behind_lb:
            serving.append(
                aws.route53.Record(
                    f"{name}-dns",
                    zone_id=mirror.tls.hosted_zone_id,
                    name=host,
                    type="A",
                    # The node's public address changes on every stop and start (an instance type, a
                    # boot change): clients and the providers follow it within a minute, not five.
                    ttl=60,
                    records=[hosts[0].address],
                    opts=child,
                )
            )

        # The mirror registers with the primary on its first node's first start; once that node is back
        # (healthy: the load balancer sends clients to it alone) it is approved and serves, while the
        # farm's other nodes join after it.
        approval = MirrorApproval(
            f"{name}-approval",
            MirrorApprovalArgs(
                primary_url=primary.url,
                base_url=mirror.base_url,
                timeout_s=mirror.approval_timeout_s,
                ca_bundle=primary.ca_bundle,
                expected_type="FARM" if clustered else "SINGLE",
                home_zone=hosts[0].home_zone,
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
                    installs=installs,
                    tags=tags,
                    load_balancer=LoadBalancerMetrics(lb.arn_suffix, lb.target_group_arn_suffixes) if lb else None,
                ),
                opts=child,
            )

        self.url = pulumi.Output.from_input(mirror.base_url.rstrip("/"))
        self.ssh_url = pulumi.Output.from_input(f"ssh://git@{host}:{BITBUCKET_SSH}")
        self.ssh_host_key = ssh_key.public_key_openssh.apply(lambda k: k.strip())
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
