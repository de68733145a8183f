"""What a site decides before its rollout: its keys, every node's instance, what every node installs,
and the RolloutPlan that carries them to the rollout (components/plan.py, components/rollout.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pulumi_tls as tls

from providers.mirror_generation import MirrorGeneration
from providers.mirror_setup import MirrorSetup, MirrorSetupArgs
from stack_config import secret_output
from stack_config.instance_types import architecture_of

from . import tags as tagging
from .ami import current_ami
from .host import MirrorHostArgs, user_data_digest
from .install import FarmInputs, MirrorInstallArgs, NginxInputs
from .load_balancer import MirrorLoadBalancer
from .network import MirrorNetwork
from .plan import NodePlan, RolloutPlan
from .restore import restored_home
from .site_args import MirrorSiteArgs


@dataclass(frozen=True)
class SiteKeys:
    """The site's keys: the operators' login (SSH to the nodes) and Bitbucket's own SSH host key."""

    login_key: tls.PrivateKey
    ssh_key: tls.PrivateKey
    key_pair: aws.ec2.KeyPair

    @staticmethod
    def create(name: str, args: MirrorSiteArgs, tags: dict[str, str], site: pulumi.Resource) -> SiteKeys:
        child = pulumi.ResourceOptions(parent=site)
        login_key = tls.PrivateKey(f"{name}-login-key", algorithm="ED25519", opts=child)
        # One SSH host key for the site's Bitbucket (port 7999), the same on every node and kept across
        # rebuilds, scaling and upgrades: clients' known_hosts stays true. RSA: the kind Bitbucket makes.
        ssh_key = tls.PrivateKey(f"{name}-ssh-server-key", algorithm="RSA", rsa_bits=3072, opts=child)
        key_pair = aws.ec2.KeyPair(
            f"{name}-login", public_key=login_key.public_key_openssh, tags=tags, region=args.region, opts=child
        )
        return SiteKeys(login_key, ssh_key, key_pair)


def clustered_when(behind_lb: bool) -> bool:
    """Whether a site's nodes form a farm. Every site behind a load balancer is one, of one node or
    more: scaling it from one node to two (or back) then changes no node's files, so no node restarts
    (nginx sites are single)."""
    return behind_lb


def rollout_plan(
    site: pulumi.Resource,
    name: str,
    args: MirrorSiteArgs,
    net: MirrorNetwork,
    keys: SiteKeys,
    generation: MirrorGeneration,
    lb: Optional[MirrorLoadBalancer],
    public: bool,
    tags: dict[str, str],
    warn_to: str,
) -> RolloutPlan:
    """What the rollout does this `up`: every node's instance, and what every node installs."""
    mirror = args.mirror
    behind_lb = lb is not None
    clustered = clustered_when(behind_lb)
    ami = current_ami(mirror.os, architecture_of(mirror.instance_type), args.region, pulumi.InvokeOptions(parent=site))
    # Installing over SSH needs a reachable address: the public one unless a bastion is used.
    reach_publicly = args.network.bastion is None
    nodes = []
    for i in range(mirror.nodes):
        node = f"{name}-node{i}"
        # A way back: each node's home created from its newest snapshot of that version.
        restored = (
            restored_home(args.region, args.stack, name, node, mirror.restore_from, pulumi.InvokeOptions(parent=site))
            if mirror.restore_from
            else None
        )
        host = MirrorHostArgs(
            region=args.region,
            ami_id=ami,
            os=mirror.os,
            instance_type=mirror.instance_type,
            subnet_id=args.placement.subnet_ids.apply(lambda ids, i=i: ids[i % len(ids)]),
            security_group_id=net.node_security_group_id,
            key_name=keys.key_pair.key_name,
            home_volume_gb=mirror.home_volume_gb,
            public_address=reach_publicly or (public and not behind_lb),
            stack=args.stack,
            tags=tags,
            farm_tag=tagging.farm_tag(args.stack, name) if clustered else None,
            # The rules its commands need outlive them: deleted after the instance.
            instance_wait_for=tuple(net.node_access),
            home_snapshot_id=restored.snapshot_id if restored else None,
            kms_key_arn=args.site.kms_key_arn,
            permissions_boundary=args.site.iam_permissions_boundary_arn,
        )
        nodes.append(
            NodePlan(node, host, tagging.node_tags(args.stack, name, node), user_data_digest(args.stack, node))
        )
    return RolloutPlan(
        name=name,
        stack=args.stack,
        site=args.site,
        ca_bundle=args.primary.ca_bundle,
        nodes=tuple(nodes),
        install=install_template(site, name, args, keys, generation, clustered),
        multi_node=len(nodes) > 1,
        clustered=clustered,
        behind_lb=behind_lb,
        load_balancer=lb,
        warn_to=warn_to,
    )


def install_template(
    site: pulumi.Resource,
    name: str,
    args: MirrorSiteArgs,
    keys: SiteKeys,
    generation: MirrorGeneration,
    clustered: bool,
) -> MirrorInstallArgs:
    """What every node installs (its `host` is set by the rollout, node by node)."""
    mirror, primary = args.mirror, args.primary
    child = pulumi.ResourceOptions(parent=site)
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
            server_name=urlsplit(mirror.base_url).hostname or "",
            certificate=mirror.tls.certificate or "",
            private_key=secret_output(mirror.tls.private_key),
        )
    return MirrorInstallArgs(
        host=None,
        login_private_key=keys.login_key.private_key_openssh,
        bitbucket_version=mirror.bitbucket_version,
        base_url=mirror.base_url,
        setup_block=setup.properties,
        installer_url=mirror.installer.url if mirror.installer else None,
        installer_sha256=mirror.installer.sha256 if mirror.installer else None,
        ca_bundle=primary.ca_bundle,
        farm=farm_inputs,
        nginx=nginx_inputs,
        bastion=args.network.bastion,
        jmx_exporter=args.monitoring is not None and args.monitoring.jmx_exporter,
        generation=generation.generation,
        ssh_server_key=keys.ssh_key.private_key_pem,
    )
