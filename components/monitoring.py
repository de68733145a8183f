"""A mirror that says when it is unhealthy: CloudWatch alarms, EC2 automatic recovery, and a small
publisher on each node for what only the node can see.

Per site, in the site's region (an alarm can only notify a topic in its own region):
- behind a load balancer, each target group's healthy hosts below the node count (warning, farms)
  and at zero (critical); in nginx mode the node's own status alarm is the site's;
- per node, EC2's system status check with the `recover` action (the instance comes back on new
  hardware with its EBS volumes) and the instance status check;
- per node, the home volume fuller than `homeUsedPercentAlarm` and Bitbucket's /status not RUNNING
  for 5 minutes, both published by the node itself (`publish-metrics.sh`, a systemd timer, the
  instance role allowed `cloudwatch:PutMetricData` in one namespace and nothing else).
Nothing here touches an instance, a volume or the install: monitoring can be added to a running
stack without restarting a mirror.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from facts import types
from stack_config import Monitoring, Site

from . import host_files as files
from . import tags as tagging
from .bundle import bundle
from .host import MirrorHost
from .install import MirrorInstall
from .node_command import node_command, unpack_bundle

MINUTE = 60
STATUS_DOWN_MINUTES = 5


def metrics_policy(namespace: str = files.METRICS_NAMESPACE) -> str:
    """PutMetricData only, only into the project's namespace (the action has no resource ARNs)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "cloudwatch:PutMetricData",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
                }
            ],
        }
    )


def recover_action(region: str) -> str:
    return f"arn:aws:automate:{region}:ec2:recover"


@dataclass(frozen=True)
class AlarmTopicsArgs:
    """Which sites need a created SNS topic (monitored, with no topic of their own)."""

    # The stack: the topics' names are scoped by it.
    stack: str
    # Every site: one topic per region of those that need one, with their e-mail subscriptions.
    sites: Sequence[Site]


class AlarmTopics(pulumi.ComponentResource):
    """One SNS topic per region whose monitored sites have no topic of their own, with the
    e-mail subscriptions those sites ask for."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AlarmTopicsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.ALARM_TOPICS, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        emails: dict[str, set[str]] = {}
        for site in args.sites:
            if site.monitoring is not None and site.monitoring.alarm_topic_arn is None:
                emails.setdefault(site.region, set()).update(site.monitoring.emails)
        self.arns = {}
        for region in sorted(emails):
            topic = aws.sns.Topic(
                f"{name}-{region}",
                region=region,
                tags=tagging.named(tagging.stack_tags(args.stack), f"{name}-{region}"),
                opts=child,
            )
            self.arns[region] = topic.arn
            for address in sorted(emails[region]):
                # Named by the address, not its place in a list: adding someone leaves every other
                # subscription (and its confirmation) as it is.
                aws.sns.TopicSubscription(
                    f"{name}-{region}-email-{_digest(address)}",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=address,
                    region=region,
                    opts=child,
                )
        self.register_outputs({"arns": self.arns})


def _digest(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:12]


def site_topic(site: Site, created: Mapping[str, pulumi.Output[str]]) -> Optional[pulumi.Input[str]]:
    """The topic a site's alarms notify: its own, or the one AlarmTopics created for its region
    (`created`: region -> ARN, which holds every monitored site's region without a topic of its own);
    None: unmonitored."""
    if site.monitoring is None:
        return None
    if site.monitoring.alarm_topic_arn is not None:
        return site.monitoring.alarm_topic_arn
    return created[site.region]


@dataclass(frozen=True)
class LoadBalancerMetrics:
    """What CloudWatch's AWS/NetworkELB dimensions name: the balancer and its target groups."""

    arn_suffix: pulumi.Output[str]
    target_groups: Mapping[str, pulumi.Output[str]]  # label -> target group arn suffix


@dataclass(frozen=True)
class MirrorAlarmsArgs:
    """What a monitored site's CloudWatch alarms watch and whom they notify."""

    # The stack: the alarms' names are scoped by it.
    stack: str
    # The site's name: in the alarms' descriptions and the published metrics' Site dimension.
    site: str
    # The site's region: where the alarms live and which recover action EC2 runs.
    region: str
    # The site's monitoring keys (thresholds, e-mails).
    monitoring: Monitoring
    # Where every alarm notifies (the site's own topic, or the one created for its region).
    topic_arn: pulumi.Input[str]
    # The site's nodes: their status checks and their published metrics are watched.
    hosts: Sequence[MirrorHost]
    # The nodes' installs, in the same order: the metrics publisher runs after each.
    installs: Sequence[MirrorInstall]
    # The site's balancer (None: nginx): its healthy-node counts are watched.
    load_balancer: Optional[LoadBalancerMetrics] = None
    # The site's tags, on every alarm.
    tags: dict[str, str] = field(default_factory=dict)


class MirrorAlarms(pulumi.ComponentResource):
    """A monitored site's CloudWatch alarms (monitoring.*): its balancer's healthy nodes, and each node's
    status checks, home usage and Bitbucket's status, all notifying the site's topic. A node added or
    removed adds or removes its alarms; thresholds change in place."""

    def __init__(self, name: str, args: MirrorAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.ALARMS, name, None, opts)
        self._args = args
        if args.load_balancer is not None:
            self._load_balancer_alarms(name, args.load_balancer)
        for host, install in zip(args.hosts, args.installs):
            self._node_alarms(host, install)
        self.register_outputs({})

    def _load_balancer_alarms(self, name: str, lb: LoadBalancerMetrics) -> None:
        """Per target group: fewer healthy nodes than the site has (a warning), none (critical)."""
        args = self._args
        nodes = len(args.hosts)
        for label, target_group in lb.target_groups.items():
            dimensions = {"LoadBalancer": lb.arn_suffix, "TargetGroup": target_group}
            if nodes > 1:
                self._alarm(
                    f"{name}-{label}-degraded",
                    "AWS/NetworkELB",
                    "HealthyHostCount",
                    dimensions,
                    "Minimum",
                    "LessThanThreshold",
                    nodes,
                    periods=3,
                    description=f"warning: fewer than {nodes} healthy nodes behind {label} of {args.site}",
                )
            self._alarm(
                f"{name}-{label}-down",
                "AWS/NetworkELB",
                "HealthyHostCount",
                dimensions,
                "Maximum",
                "LessThanThreshold",
                1,
                periods=2,
                missing="breaching",
                description=f"critical: no healthy node behind {label} of {args.site}: clients cannot clone",
            )

    def _node_alarms(self, host: MirrorHost, install: MirrorInstall) -> None:
        """Per node: EC2's status checks (a host failure recovers the instance), a full home,
        Bitbucket not RUNNING; and the node's metrics (NodeMetrics) that the last two read."""
        args = self._args
        node = host.node_name
        instance = {"InstanceId": host.instance_id}
        self._alarm(
            f"{node}-system-check",
            "AWS/EC2",
            "StatusCheckFailed_System",
            instance,
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1,
            periods=2,
            actions=[recover_action(args.region)],
            description=f"{node}: AWS host failure; EC2 recovers the instance on new hardware",
        )
        self._alarm(
            f"{node}-instance-check",
            "AWS/EC2",
            "StatusCheckFailed_Instance",
            instance,
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1,
            periods=3,
            description=f"{node}: the operating system does not answer EC2's status check",
        )
        published = {"Site": args.site, "Node": node}
        self._alarm(
            f"{node}-home-used",
            files.METRICS_NAMESPACE,
            "HomeUsedPercent",
            published,
            "Maximum",
            "GreaterThanThreshold",
            args.monitoring.home_used_percent_alarm,
            periods=5,
            description=f"{node}: home volume over {args.monitoring.home_used_percent_alarm}% full",
        )
        self._alarm(
            f"{node}-not-running",
            files.METRICS_NAMESPACE,
            "StatusRunning",
            published,
            "Maximum",
            "LessThanThreshold",
            1,
            periods=STATUS_DOWN_MINUTES,
            missing="breaching",
            description=(
                f"{node}: Bitbucket's /status has not been RUNNING for "
                f"{STATUS_DOWN_MINUTES} minutes (or the node stopped reporting)"
            ),
        )
        NodeMetrics(
            node,
            NodeMetricsArgs(site=args.site, region=args.region, host=host, install=install),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarm(
        self,
        name: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str,
        comparison: str,
        threshold: float,
        periods: int,
        description: str,
        actions: Sequence[pulumi.Input[str]] = (),
        missing: str = "missing",
    ) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        return aws.cloudwatch.MetricAlarm(
            # Alarm names are unique per account and region: the stack's name keeps dev and prod apart.
            name,
            name=f"bitbucket-mirrors-{args.stack}-{name}",
            namespace=namespace,
            metric_name=metric,
            dimensions=dict(dimensions),
            statistic=statistic,
            period=MINUTE,
            evaluation_periods=periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
            alarm_actions=[*actions, args.topic_arn],
            ok_actions=[args.topic_arn],
            region=args.region,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


@dataclass(frozen=True)
class NodeMetricsArgs:
    """What one node's metrics publisher needs."""

    # The site's name: the Site dimension of what the node publishes.
    site: str
    # Where the node publishes (CloudWatch is regional).
    region: str
    # The node: its role may put metrics, and its timer runs there.
    host: MirrorHost
    # The node's install: the publisher is installed after it.
    install: MirrorInstall


class NodeMetrics(pulumi.ComponentResource):
    """The publisher on one node: its permission, its script and the timer that runs it."""

    def __init__(self, name: str, args: NodeMetricsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.NODE_METRICS, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = aws.iam.RolePolicy(f"{name}-put-metrics", role=args.host.role_id, policy=metrics_policy(), opts=child)
        staged = {
            "publish-metrics.sh": files.render_metrics_publisher(
                files.MetricsSpec(region=args.region, site=args.site, node=name)
            ),
            **files.render_metrics_units(),
        }
        unit = files.METRICS_UNIT
        # A new publisher or unit (a new release) installs again: update=None runs `create` again.
        unpack = unpack_bundle('"$tmp"', private=False)
        node_command(
            f"{name}-metrics",
            args.install.connection,
            (
                f"set -e; tmp=$(mktemp -d); {unpack}; "
                f'sudo install -D -m 0755 "$tmp/publish-metrics.sh" {files.METRICS_SCRIPT_PATH}; '
                f'sudo install -m 0644 "$tmp/{unit}.service" "$tmp/{unit}.timer" /etc/systemd/system/; '
                f'rm -rf "$tmp"; sudo systemctl daemon-reload; sudo systemctl enable --now {unit}.timer'
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[args.install, policy]),
            stdin=bundle(staged),
            update=None,
            delete=f"sudo systemctl disable --now {unit}.timer || true",
        )
        self.register_outputs({})
