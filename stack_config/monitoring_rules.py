"""Cross-field rules of a site's monitoring (its own keys over the stack-wide ones): the alarm
topic's region, e-mails against an own topic, the JMX exporter and who may scrape it.
"""

from __future__ import annotations

from .errors import Problem
from .model import Mirror
from .network_rules import public_space_problems
from .rule_context import Context
from .sites import site_monitoring


def monitoring_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
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
        problems += public_space_problems(
            key("metrics_cidrs", "metricsCidrs"),
            monitoring.metrics_cidrs,
            "the JVM's metrics (9404)",
            "your monitoring servers' addresses",
        )
    return problems
