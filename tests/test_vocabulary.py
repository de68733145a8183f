"""The project's vocabulary is written once, in facts/: the components' type tokens and the URN the
engine gives a resource (facts/types.py), the tag keys and EC2's filters by tags (facts/tags.py).

A token's value is part of every URN of a running stack: the values below are frozen on purpose, and a
change to one must fail here before it renames (deletes and recreates) every resource of a deployed site.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from facts import tags, types

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ["components", "providers", "stack_config", "facts"]

FROZEN = {
    "SITE": "bitbucket-mirrors:site:MirrorSite",
    "NETWORK": "bitbucket-mirrors:network:MirrorNetwork",
    "TLS": "bitbucket-mirrors:tls:AcmCertificate",
    "LOAD_BALANCER": "bitbucket-mirrors:lb:MirrorLoadBalancer",
    "HOST": "bitbucket-mirrors:host:MirrorHost",
    "INSTALL": "bitbucket-mirrors:install:MirrorInstall",
    "ALARM_TOPICS": "bitbucket-mirrors:monitoring:AlarmTopics",
    "ALARMS": "bitbucket-mirrors:monitoring:MirrorAlarms",
    "NODE_METRICS": "bitbucket-mirrors:monitoring:NodeMetrics",
}


def product_sources():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text()


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_a_component_type_token_keeps_its_value(name):
    assert getattr(types, name) == FROZEN[name]


def test_the_urn_of_a_top_level_component_is_the_engines():
    # As the engine prints it in `pulumi stack --show-urns` and as preview warnings are addressed.
    assert types.urn("prod", "bitbucket-mirrors", [types.SITE], "iad") == (
        "urn:pulumi:prod::bitbucket-mirrors::bitbucket-mirrors:site:MirrorSite::iad"
    )


def test_a_childs_urn_carries_its_parents_types_outermost_first():
    urn = types.urn("prod", "bitbucket-mirrors", [types.SITE, types.HOST], "iad-node0")
    assert urn == (
        "urn:pulumi:prod::bitbucket-mirrors::bitbucket-mirrors:site:MirrorSite$bitbucket-mirrors:host:MirrorHost"
        "::iad-node0"
    )


def test_a_urn_without_a_type_is_refused():
    with pytest.raises(ValueError, match="type_chain"):
        types.urn("prod", "bitbucket-mirrors", [], "iad")


def test_the_filters_by_tags_match_every_tag_in_a_stable_order():
    filters = tags.tag_filters({tags.SITE: "iad", tags.STACK: "prod", tags.NAME: "iad-node0"})
    assert filters == [
        {"Name": "tag:Name", "Values": ["iad-node0"]},
        {"Name": "tag:bitbucket-mirrors:site", "Values": ["iad"]},
        {"Name": "tag:bitbucket-mirrors:stack", "Values": ["prod"]},
    ]


def test_the_components_tags_use_the_facts_keys():
    from components import tags as tagging

    assert tagging.node_tags("prod", "iad", "iad-node0") == {
        tags.SITE: "iad",
        tags.STACK: "prod",
        tags.NAME: "iad-node0",
    }
    assert tagging.SNAPSHOT_KEYS is tags.SNAPSHOT_KEYS


def test_no_type_token_or_urn_is_spelled_outside_facts():
    token = re.compile(r"[\"']bitbucket-mirrors:[a-z]+:[A-Z]\w*[\"']")
    spelled = [
        path
        for path, text in product_sources()
        if path != "facts/types.py" and (token.search(text) or "urn:pulumi:" in text)
    ]
    assert spelled == [], f"spell type tokens and URNs with facts.types: {spelled}"


def test_no_filter_by_tags_is_built_outside_facts():
    spelled = [path for path, text in product_sources() if path != "facts/tags.py" and re.search(r"f[\"']tag:", text)]
    assert spelled == [], f"build filters by tags with facts.tags.tag_filters: {spelled}"


def test_every_component_token_is_used_by_a_component():
    text = "\n".join(path.read_text() for path in sorted((ROOT / "components").glob("*.py")))
    unused = [name for name in FROZEN if f"types.{name}" not in text]
    assert unused == []


@pytest.mark.parametrize(
    "url, plain, marked",
    [
        (
            "https://admin:s3cret@host.example.com:8443/path?token=s3cret#s3cret",
            "https://host.example.com:8443/path",
            "https://…@host.example.com:8443/path?…",
        ),
        ("https://host.example.com/path#s3cret?x", "https://host.example.com/path", "https://host.example.com/path#…"),
        ("https://admin:s3cret@[bad/x", "https://[bad/x", "https://…@[bad/x"),  # does not parse: still redacted
        ("https://host.example.com", "https://host.example.com", "https://host.example.com"),
    ],
)
def test_one_redactor_drops_userinfo_query_and_fragment_wherever_a_url_is_shown(url, plain, marked):
    from facts.urls import redact
    from providers.urls import redact as providers_redact
    from stack_config.shown import shown_url

    assert redact(url) == plain and providers_redact(url) == plain
    assert redact(url, marks=True) == marked
    assert shown_url(url) == repr(marked) and "s3cret" not in shown_url(url)


URLS = [
    "https://primary.example.com",
    "https://primary.example.com/bitbucket",
    "https://10.0.0.5:8443/bitbucket",
    "https://Mirror-Syd.Example.com/",
    "https://primary.example.com.",
    "https://primary.example.com:0",
    "https://primary.example.com:99999",
    "https://pri\tmary.example.com",
    "https://admin:pw@primary.example.com",
    "https://primary.example.com/?token=pw",
    "https://primary.example.com/#pw",
    "http://primary.example.com",
    "https://bad_host.example.com",
    "https://-dash.example.com",
    "https://10.0.0.300",
    "https://",
    "primary.example.com",
]


def test_the_config_refuses_every_url_the_providers_refuse_among_these():
    # Two faces of one rule: the config's check words its refusals for the key and is stricter; were it
    # ever looser, a URL previewed as fine would be refused by the providers at `up`.
    from facts.urls import https_problem
    from stack_config.urls import https_url

    def config_accepts(url):
        try:
            https_url(url)
            return True
        except ValueError:
            return False

    refused_by_providers = [url for url in URLS if https_problem(url)]
    assert refused_by_providers and not [url for url in refused_by_providers if config_accepts(url)]
    assert [url for url in URLS if config_accepts(url)] == URLS[:4]
