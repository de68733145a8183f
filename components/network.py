"""Where mirror hosts live (VPC, subnets) and who may reach them (security groups).

Every rule is its own `aws.vpc.SecurityGroupIngressRule`/`EgressRule` with one port and one
source, so a reviewer (and the tests) can read the exposure rule by rule.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from facts import types

from . import tags as tagging
from .region import Placement

HTTPS = 443
BITBUCKET_HTTP = 7990
BITBUCKET_SSH = 7999
HAZELCAST = 5701
SSH = 22
JMX_EXPORTER = 9404
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class MirrorNetworkArgs:
    """Who may reach a site's nodes (and its load balancer) on what: each field changes a rule."""

    # Where the site lives (its VPC; the VPC's CIDR stands for clients when client_cidrs is empty).
    placement: Placement
    # network.clientCidrs: who may clone (HTTPS and SSH).
    client_cidrs: tuple[str, ...]
    # primary.cidrs: the primary's egress addresses, which call the mirror on HTTPS.
    primary_cidrs: tuple[str, ...]
    # network.adminCidrs (and the bastion's address): who may SSH to the nodes for the install.
    admin_cidrs: tuple[str, ...]
    # primary.sshPort: the nodes fetch from the primary over SSH on this port.
    primary_ssh_port: int
    # Clients reach the nodes through a load balancer (its own group, the nodes behind it).
    behind_load_balancer: bool
    # The nodes are clustered: Hazelcast between them is allowed.
    farm: bool
    # Extra egress: plain HTTP for distributions whose package mirrors serve http (Ubuntu).
    egress_http: bool = False
    # Who may scrape the JMX exporter on the nodes (monitoring.jmxExporter); empty: port closed.
    metrics_cidrs: tuple[str, ...] = ()
    # The site's tags, on the security groups.
    tags: dict[str, str] = field(default_factory=dict)


class MirrorNetwork(pulumi.ComponentResource):
    """Security groups of one mirror site: its nodes, and its load balancer when it has one."""

    node_security_group_id: pulumi.Output[str]
    lb_security_group_id: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: MirrorNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.NETWORK, name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._region = args.placement.region
        vpc_id = args.placement.vpc_id
        clients: Sequence[pulumi.Input[str]] = args.client_cidrs or [args.placement.vpc_cidr]

        nodes = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            vpc_id=vpc_id,
            description=f"Bitbucket mirror {name}: nodes",
            region=self._region,
            revoke_rules_on_delete=True,
            tags=tagging.named(args.tags, f"{name}-nodes"),
            opts=self._child,
        )
        self.node_security_group_id = nodes.id
        self.lb_security_group_id = None
        # The way to the mirror from the machine running `pulumi up`, which the providers take (they
        # call the mirror as a client does, through every listener's path): what calls it on delete
        # depends on these, so the engine removes them only after (a removed site's project selection
        # is undone through them, and its clients keep both protocols until then).
        self.https_path: list[pulumi.Resource] = []

        if args.behind_load_balancer:
            self.lb_security_group_id = self._load_balancer_group(name, args, nodes, clients)
        else:
            # nginx on the node terminates TLS: 443 and 7999 face clients directly.
            self.https_path += self._ingress_from_cidrs((f"{name}-nodes", nodes), "clients-https", HTTPS, clients)
            self.https_path += self._ingress_from_cidrs((f"{name}-nodes", nodes), "clients-ssh", BITBUCKET_SSH, clients)
            self._ingress_from_cidrs((f"{name}-nodes", nodes), "primary-https", HTTPS, args.primary_cidrs)

        # Installation over SSH: only from the admins' addresses (or the bastion's).
        ssh = self._ingress_from_cidrs((f"{name}-nodes", nodes), "admin-ssh", SSH, args.admin_cidrs)
        self._ingress_from_cidrs((f"{name}-nodes", nodes), "metrics", JMX_EXPORTER, args.metrics_cidrs)
        if args.farm:
            self._hazelcast(name, nodes)

        outbound = self._egress(name, args, nodes)
        # What a node's commands need, on create and on delete alike: SSH in, and the way out to the
        # primary. The site's instances depend on these, so that the engine, which deletes in reverse
        # dependency order, removes them only after every command on the node (its retire above all).
        self.node_access: list[pulumi.Resource] = [*ssh, *outbound]

        self.register_outputs(
            {"node_security_group_id": self.node_security_group_id, "lb_security_group_id": self.lb_security_group_id}
        )

    def _load_balancer_group(
        self, name: str, args: MirrorNetworkArgs, nodes: aws.ec2.SecurityGroup, clients: Sequence[pulumi.Input[str]]
    ) -> pulumi.Output[str]:
        """The load balancer's group: clients and the primary in, to the nodes' Bitbucket ports out."""
        lb = aws.ec2.SecurityGroup(
            f"{name}-lb",
            vpc_id=args.placement.vpc_id,
            description=f"Bitbucket mirror {name}: load balancer",
            region=self._region,
            revoke_rules_on_delete=True,
            tags=tagging.named(args.tags, f"{name}-lb"),
            opts=self._child,
        )
        # Clients clone over HTTPS and SSH; the primary calls the mirror on HTTPS only.
        self.https_path += self._ingress_from_cidrs((f"{name}-lb", lb), "clients-https", HTTPS, clients)
        self.https_path += self._ingress_from_cidrs((f"{name}-lb", lb), "clients-ssh", BITBUCKET_SSH, clients)
        self._ingress_from_cidrs((f"{name}-lb", lb), "primary-https", HTTPS, args.primary_cidrs)
        for port, label in ((BITBUCKET_HTTP, "http"), (BITBUCKET_SSH, "ssh")):
            into_nodes = self._ingress_from_group((f"{name}-nodes", nodes), f"lb-{label}", port, lb.id)
            out_of_lb = self._egress_to_group(
                f"{name}-lb-to-nodes-{label}", lb, port, nodes.id, f"load balancer to nodes on {port}"
            )
            self.https_path += [into_nodes, out_of_lb]
        return lb.id

    def _hazelcast(self, name: str, nodes: aws.ec2.SecurityGroup) -> None:
        """Hazelcast between the farm's own nodes, never through the load balancer."""
        self._ingress_from_group((f"{name}-nodes", nodes), "hazelcast", HAZELCAST, nodes.id)
        self._egress_to_group(
            f"{name}-nodes-egress-hazelcast", nodes, HAZELCAST, nodes.id, "Hazelcast to the other farm nodes"
        )

    def _egress(
        self, name: str, args: MirrorNetworkArgs, nodes: aws.ec2.SecurityGroup
    ) -> list[aws.vpc.SecurityGroupEgressRule]:
        """The nodes' way out."""
        # The primary's address is not known here (primary.cidrs are its egress addresses), so the
        # nodes may reach any host on 443 (primary, packages, installer) and the primary's SSH port.
        egress = [("https", HTTPS), ("primary-ssh", args.primary_ssh_port)]
        if args.egress_http:
            egress.append(("http", 80))
        outbound = []
        for label, port in egress:
            rule = aws.vpc.SecurityGroupEgressRule(
                f"{name}-nodes-egress-{label}",
                security_group_id=nodes.id,
                ip_protocol="tcp",
                region=self._region,
                from_port=port,
                to_port=port,
                cidr_ipv4=ANYWHERE,
                description=f"nodes to the primary and package sources on {port}",
                opts=self._child,
            )
            outbound.append(rule)
        return outbound

    def _ingress_from_cidrs(
        self, group: tuple[str, aws.ec2.SecurityGroup], label: str, port: int, cidrs: Sequence[pulumi.Input[str]]
    ) -> list[aws.vpc.SecurityGroupIngressRule]:
        group_name, group_resource = group
        rules = []
        for i, cidr in enumerate(cidrs):
            is_v6 = isinstance(cidr, str) and ipaddress.ip_network(cidr).version == 6
            rule = aws.vpc.SecurityGroupIngressRule(
                f"{group_name}-in-{label}-{i}",
                security_group_id=group_resource.id,
                ip_protocol="tcp",
                region=self._region,
                from_port=port,
                to_port=port,
                cidr_ipv6=cidr if is_v6 else None,
                cidr_ipv4=None if is_v6 else cidr,
                description=f"{label} on {port}",
                opts=self._child,
            )
            rules.append(rule)
        return rules

    def _egress_to_group(
        self, rule: str, group: aws.ec2.SecurityGroup, port: int, target: pulumi.Input[str], description: str
    ) -> aws.vpc.SecurityGroupEgressRule:
        """Out of `group` on `port` to the members of the `target` group, and nowhere else."""
        return aws.vpc.SecurityGroupEgressRule(
            rule,
            security_group_id=group.id,
            ip_protocol="tcp",
            region=self._region,
            from_port=port,
            to_port=port,
            referenced_security_group_id=target,
            description=description,
            opts=self._child,
        )

    def _ingress_from_group(
        self, group: tuple[str, aws.ec2.SecurityGroup], label: str, port: int, source: pulumi.Input[str]
    ) -> aws.vpc.SecurityGroupIngressRule:
        group_name, group_resource = group
        return aws.vpc.SecurityGroupIngressRule(
            f"{group_name}-in-{label}",
            security_group_id=group_resource.id,
            ip_protocol="tcp",
            region=self._region,
            from_port=port,
            to_port=port,
            referenced_security_group_id=source,
            description=f"{label} on {port}",
            opts=self._child,
        )
