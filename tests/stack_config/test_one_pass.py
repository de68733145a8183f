"""Every problem at once: field rules and cross-field rules report in one pass, and a cross-field
rule skips only the keys that failed (issue "first hour", item 3)."""

from __future__ import annotations

import pytest

from stack_config import ConfigError
from tests.certificates import self_signed

from .test_stack_config import BASE, NGINX_TLS, PEM_KEY, STACK_REGION, load, problems_of, with_

ZONE = "Z0123456789ABCDEFGHIJ"

# Eight mistakes a field rule finds, nine only a cross-field rule can: before, the first eight
# were reported, and the other nine only once those were fixed.
THIRTEEN_AND_MORE = {
    "primary": {"url": "http://bitbucket.example.com", "username": "mirror-admin", "sshPort": 0},
    "network": {"adminCidrs": ["10.0.0.1/24"]},
    "monitoring": {"emails": ["ops-at-example.com"], "metricsCidrs": ["10.9.0.0/16"]},
    "mirrors": [
        {
            "name": "syd",
            "baseUrl": "https://mirror-syd.example.com",
            "bitbucketVersion": 9.4,
            "instanceType": "t3.medium",
            "mirrorAll": True,
            "projects": ["OPS", "ops"],
            "tls": {"hostedZoneId": ZONE, "hostedZoneID": ZONE},
        },
        {"name": "syd", "baseUrl": "https://MIRROR-SYD.example.com/", "nodes": "three", "tls": {}},
        {
            "name": "fra",
            "baseUrl": "https://mirror-fra.example.com",
            "region": "eu-centrl-1",
            "nodes": 2,
            "tls": {"mode": "nginx", "certificate": self_signed("mirror-fra.example.com", "mirror-fra.example.com")},
        },
    ],
}
FIELD_PROBLEMS = [
    "primary.url",
    "primary.sshPort",
    "network.adminCidrs[0]",
    "monitoring.emails[0]",
    "mirrors[0].bitbucketVersion",
    "mirrors[0].tls.hostedZoneID",
    "mirrors[1].nodes",
    "mirrors[2].region",
]
CROSS_FIELD_PROBLEMS = [
    "mirrors[0].mirrorAll",
    "mirrors[0].instanceType",
    "mirrors[0].projects[1]",
    "mirrors[1].name",
    "mirrors[1].baseUrl",
    "mirrors[1].tls.hostedZoneId",
    "mirrors[2].tls.mode",
    "mirrors[2].tls.privateKey",
    "monitoring.metricsCidrs",
]


def test_field_and_cross_field_problems_are_reported_in_one_pass():
    with pytest.raises(ConfigError) as caught:
        load(THIRTEEN_AND_MORE)
    paths = [p.path for p in caught.value.problems]
    assert sorted(paths) == sorted(FIELD_PROBLEMS + CROSS_FIELD_PROBLEMS), paths
    assert str(caught.value).startswith("the stack config has 17 problems; nothing was created:")


def test_the_field_problems_come_first():
    with pytest.raises(ConfigError) as caught:
        load(THIRTEEN_AND_MORE)
    paths = [p.path for p in caught.value.problems]
    assert set(paths[: len(FIELD_PROBLEMS)]) == set(FIELD_PROBLEMS)


SKIPPED = [
    # (case id, config, extra config, the failed key, what a cross-field rule would wrongly say had it read the
    # failed key's stand-in: its default, or nothing)
    (
        "nginx-rules-wait-for-the-mode",
        with_("mirrors[0].tls", {**NGINX_TLS, "mode": "NGINX"}),
        {},
        "mirrors[0].tls.mode",
        "is only used with tls.mode 'nginx'",
    ),
    (
        "acm-rule-waits-for-the-mistyped-zone",
        with_("mirrors[0].tls", {"hostedZoneID": ZONE}),
        {},
        "mirrors[0].tls.hostedZoneID",
        "tls.mode 'acm' needs tls.hostedZoneId",
    ),
    (
        "duplicate-rule-waits-for-the-url",
        with_(
            "mirrors",
            [BASE["mirrors"][0], {**BASE["mirrors"][0], "name": "fra", "baseUrl": "http://mirror-syd.example.com"}],
        ),
        {},
        "mirrors[1].baseUrl",
        "is the same URL as",
    ),
    (
        "length-rule-waits-for-the-name",
        with_("mirrors[0].name", "s" * 40),
        {},
        "mirrors[0].name",
        "with tls.mode 'acm' at most 18",
    ),
    (
        "certificate-region-rule-waits-for-the-site-region",
        with_(
            "mirrors[0].region",
            "eu-centrl-1",
            with_("mirrors[0].tls.certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b"),
        ),
        {},
        "mirrors[0].region",
        "can only use an ACM certificate of its own region",
    ),
    (
        "no-region-rule-waits-for-aws-region",
        BASE,
        {"aws:region": "ap-southeast2"},
        "aws:region",
        "no region: set aws:region",
    ),
    (
        "monitoring-rule-waits-for-the-exporter-flag",
        with_("monitoring", {"jmxExporter": "enabled", "metricsCidrs": ["10.0.0.0/8"]}),
        {},
        "monitoring.jmxExporter",
        "is only used with jmxExporter",
    ),
    (
        "nginx-rule-waits-for-the-certificate",
        with_("mirrors[0].tls", {**NGINX_TLS, "certificate": "-----BEGIN CERTIFICATE-----"}),
        {},
        "mirrors[0].tls.certificate",
        "needs the PEM certificate chain",
    ),
    (
        "placement-rule-waits-for-the-site-network",
        with_(
            "mirrors[0].region",
            "eu-central-1",
            with_("network", {"vpcId": "vpc-0123456789abcdef0"}, with_("mirrors[0].network", "own")),
        ),
        {},
        "mirrors[0].network",
        "differs from the stack's aws:region",
    ),
]


@pytest.mark.parametrize("raw, extra, failed, rule_says", [c[1:] for c in SKIPPED], ids=[c[0] for c in SKIPPED])
def test_a_cross_field_rule_skips_only_the_keys_that_failed(raw, extra, failed, rule_says):
    message = problems_of(raw, extra=extra)
    assert f"  - {'' if ':' in failed else 'bitbucket-mirrors:'}{failed}: " in message, message
    assert rule_says not in message, message


def test_rules_that_read_no_failed_key_still_run():
    raw = with_(
        "mirrors[0].nodes", "three", with_("mirrors[0].mirrorAll", True, with_("mirrors[0].projects", ["PLAT"]))
    )
    message = problems_of(raw)
    assert "mirrors[0].nodes" in message and "bitbucket-mirrors:mirrors[0].mirrorAll: mirrorAll: true" in message


def test_a_mirror_that_is_not_an_object_leaves_the_others_checked():
    raw = with_(
        "mirrors",
        ["syd", {**BASE["mirrors"][0], "name": "fra", "baseUrl": "https://mirror-fra.example.com", "tls": {}}],
    )
    message = problems_of(raw)
    assert "bitbucket-mirrors:mirrors[0]: expected an object" in message
    assert "bitbucket-mirrors:mirrors[1].tls.hostedZoneId: tls.mode 'acm' needs" in message


FRA_CERT = self_signed("mirror-fra.example.com", "mirror-fra.example.com")
README_SAMPLE = with_(
    "mirrors",
    [
        BASE["mirrors"][0],
        {
            "name": "fra",
            "baseUrl": "https://mirror-fra.example.com",
            "nodes": 3,
            "tls": {"mode": "nginx", "hostedZoneID": ZONE, "certificate": FRA_CERT, "privateKey": PEM_KEY},
        },
    ],
)
README_TEXT = (
    "the stack config has 2 problems; nothing was created:\n"
    "  - bitbucket-mirrors:mirrors[1].tls.hostedZoneID: unknown key; did you mean 'hostedZoneId'?\n"
    "  - bitbucket-mirrors:mirrors[1].tls.mode: a mirror farm (nodes: 3) needs tls.mode 'acm': the farm sits behind "
    "one load balancer; nginx mode serves a single node"
)


def test_the_readme_sample_output_is_what_the_program_says():
    with pytest.raises(ConfigError) as caught:
        load(README_SAMPLE)
    assert str(caught.value) == README_TEXT


def test_a_stack_region_that_is_no_region_is_one_problem_not_one_per_site():
    message = problems_of(
        with_(
            "mirrors",
            [BASE["mirrors"][0], {**BASE["mirrors"][0], "name": "fra", "baseUrl": "https://mirror-fra.example.com"}],
        ),
        extra={"aws:region": "ap-southeast2"},
    )
    assert message.startswith("the stack config has 1 problem;"), message
    assert STACK_REGION in message


def test_readme_shows_exactly_that_output():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"error: {README_TEXT}\n" in readme
