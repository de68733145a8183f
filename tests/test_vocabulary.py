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
    # Two voices of one check (facts.urls.https_fault): the config's words its refusals for the key and
    # is strict; were it ever looser, a URL previewed as fine would be refused by the providers at `up`.
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


# What the config's strict check adds to the providers' one, each with the fault it finds.
STRICT_ONLY = [
    ("https://pri\tmary.example.com", "control characters", "U+0009"),
    ("https://primary.example.com/\u200bbitbucket", "control characters", "U+200B"),
    ("https://primary.example.com.", "trailing dot", ""),
    ("https://primary.example.com:0", "port", "0"),
    ("https://primary.example.com:", "port", ""),
    ("https://primary.example.com/?", "query or fragment", ""),
    ("https://primary.example.com/#", "query or fragment", ""),
]


@pytest.mark.parametrize("url, kind, detail", STRICT_ONLY, ids=repr)
def test_the_one_url_check_is_stricter_for_the_config_only_where_it_says(url, kind, detail):
    from facts.urls import UrlFault, https_fault

    assert https_fault(url, strict=True) == UrlFault(kind, detail)
    assert https_fault(url) is None


@pytest.mark.parametrize(
    "url, config_says, providers_say",
    [
        ("http://admin:s3cret@primary.example.com", "without credentials", "carries credentials"),
        ("https://bad_host.example.com/?token=s3cret", "https://<hostname>", "no valid host name"),
        ("http://primary.example.com:99999", "refuses plain HTTP", "refuses plain HTTP"),
    ],
    ids=repr,
)
def test_a_url_wrong_twice_is_refused_for_the_same_fault_by_the_config_and_the_providers(
    url, config_says, providers_say
):
    # One check, one order: what a user fixes first is what preview named, whoever refuses it.
    from facts.urls import https_problem
    from stack_config.urls import https_url

    with pytest.raises(ValueError) as refused:
        https_url(url)
    assert config_says in str(refused.value) and providers_say in https_problem(url)
    assert "s3cret" not in str(refused.value) + https_problem(url)


def test_the_config_accepts_no_url_the_providers_refuse_across_every_combination_of_parts():
    from itertools import product

    from facts.urls import https_fault

    parts = (
        ["https://", "http://", "", "https:/"],
        ["", "user:pw@"],
        ["primary.example.com", "primary.example.com.", "bad_host", "10.0.0.300", "[::1]", "[::1", "", "a\tb"],
        ["", ":443", ":0", ":99999", ":x", ":"],
        ["", "/", "/bitbucket"],
        ["", "?", "?a=b", "#f"],
    )
    urls = ["".join(p) for p in product(*parts)]
    accepted = [url for url in urls if https_fault(url, strict=True) is None]
    assert accepted and not [url for url in accepted if https_fault(url) is not None]
    assert len(accepted) < len([url for url in urls if https_fault(url) is None])  # stricter, not the same
