"""The monitoring block: defaults, per-site override, and every refusal by key."""

from __future__ import annotations

import pytest

from .test_stack_config import BASE, load, problems_of, with_

TOPIC = "arn:aws:sns:ap-southeast-2:123456789012:bitbucket-alarms"
TWO_SITES = with_(
    "mirrors",
    [
        BASE["mirrors"][0],
        {**BASE["mirrors"][0], "name": "fra", "region": "eu-central-1", "baseUrl": "https://mirror-fra.example.com"},
    ],
)

REFUSALS = [
    (
        "topic-in-another-region",
        with_("monitoring", {"alarmTopicArn": TOPIC}, TWO_SITES),
        "monitoring.alarmTopicArn",
        "runs in eu-central-1",
    ),
    (
        "emails-with-own-topic",
        with_("monitoring", {"alarmTopicArn": TOPIC, "emails": ["ops@example.com"]}),
        "monitoring.emails",
        "subscribe the addresses to that topic",
    ),
    ("exporter-without-cidrs", with_("monitoring", {"jmxExporter": True}), "monitoring.metricsCidrs", "9404"),
    (
        "cidrs-without-exporter",
        with_("monitoring", {"metricsCidrs": ["10.1.2.3/32"]}),
        "monitoring.metricsCidrs",
        "only used with jmxExporter",
    ),
    (
        "metrics-open-to-internet",
        with_("monitoring", {"jmxExporter": True, "metricsCidrs": ["0.0.0.0/0"]}),
        "monitoring.metricsCidrs[0]",
        "whole internet",
    ),
    (
        "site-exporter-without-cidrs",
        with_("mirrors[0].monitoring", {"jmxExporter": True}, with_("monitoring", {})),
        "mirrors[0].monitoring.metricsCidrs",
        "9404",
    ),
    (
        "threshold-0",
        with_("monitoring", {"homeUsedPercentAlarm": 0}),
        "monitoring.homeUsedPercentAlarm",
        "greater than or equal to 1",
    ),
    (
        "threshold-100",
        with_("monitoring", {"homeUsedPercentAlarm": 100}),
        "monitoring.homeUsedPercentAlarm",
        "less than or equal to 99",
    ),
    ("bad-email", with_("monitoring", {"emails": ["ops-at-example.com"]}), "monitoring.emails[0]", "an e-mail address"),
    (
        "bad-topic",
        with_("monitoring", {"alarmTopicArn": "bitbucket-alarms"}),
        "monitoring.alarmTopicArn",
        "SNS topic ARN",
    ),
    (
        "metrics-cidr-malformed",
        with_("monitoring", {"jmxExporter": True, "metricsCidrs": ["10.9.0.0/33"]}),
        "monitoring.metricsCidrs[0]",
        "10.9.0.0/33",
    ),
    (
        "site-metrics-cidr-malformed",
        with_("mirrors[0].monitoring", {"jmxExporter": True, "metricsCidrs": ["scrapers"]}),
        "mirrors[0].monitoring.metricsCidrs[0]",
        "scrapers",
    ),
]


@pytest.mark.parametrize("raw, path, words", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusal_names_the_key(raw, path, words):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert words in message, message


def test_without_the_block_nothing_is_monitored():
    (site,) = load(BASE).sites
    assert site.monitoring is None


def test_defaults_of_the_block():
    (site,) = load(with_("monitoring", {})).sites
    m = site.monitoring
    assert (m.alarm_topic_arn, m.emails, m.home_used_percent_alarm, m.jmx_exporter, m.metrics_cidrs) == (
        None,
        (),
        80,
        False,
        (),
    )


def test_a_site_overrides_keys_and_keeps_the_rest():
    raw = with_("monitoring", {"emails": ["ops@example.com"], "homeUsedPercentAlarm": 85}, TWO_SITES)
    raw = with_(
        "mirrors[1].monitoring", {"homeUsedPercentAlarm": 70, "jmxExporter": True, "metricsCidrs": ["10.1.2.3/32"]}, raw
    )
    syd, fra = load(raw).sites
    assert syd.monitoring.home_used_percent_alarm == 85 and syd.monitoring.jmx_exporter is False
    assert fra.monitoring.home_used_percent_alarm == 70 and fra.monitoring.emails == ("ops@example.com",)
    assert fra.monitoring.jmx_exporter is True


def test_a_site_may_be_monitored_alone_and_a_stack_wide_problem_is_reported_once():
    (syd,) = load(with_("mirrors[0].monitoring", {})).sites
    assert syd.monitoring is not None
    message = problems_of(with_("monitoring", {"jmxExporter": True}, TWO_SITES))
    assert message.count("monitoring.metricsCidrs") == 1


def test_a_topic_in_the_sites_region_is_accepted():
    (site,) = load(with_("monitoring", {"alarmTopicArn": TOPIC})).sites
    assert site.monitoring.alarm_topic_arn == TOPIC
