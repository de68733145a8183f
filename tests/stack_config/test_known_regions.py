"""aws:region and mirrors[].region must be regions botocore knows, with a "did you mean" (issue
"first hour", item 4: `ap-southeast2` ended in tracebacks naming no key, `eu-centrl-1` passed)."""

from __future__ import annotations

import pytest

from facts.regions import botocore_version
from stack_config import ConfigError
from stack_config.regions import closest_region, known_regions
from tests.harness import EXAMPLE_STACK, run_program, stack_file_config

from .test_stack_config import BASE, load, problems_of, with_


def _botocore_regions() -> set[str]:
    import botocore.session

    session = botocore.session.get_session()
    return {r for p in session.get_available_partitions() for r in session.get_available_regions("ec2", p)}


def _botocore_endpoint_regions() -> set[str]:
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return {region for partition in endpoints["partitions"] for region in partition["regions"]}


def test_the_copied_list_is_the_pinned_botocores():
    """facts/aws_regions.json stands in for botocore where the check runs without it: a botocore upgrade
    that adds a region fails here until the copy is refreshed."""
    import botocore

    assert known_regions() == _botocore_endpoint_regions()
    assert botocore_version() == botocore.__version__


def test_the_known_regions_are_botocores():
    assert _botocore_regions() <= known_regions()
    assert {"eu-central-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "eusc-de-east-1"} <= known_regions()


@pytest.mark.parametrize("region", sorted(_botocore_regions()))
def test_every_region_botocore_knows_is_accepted_for_a_site(region):
    assert load(with_("mirrors[0].region", region)).sites[0].region == region


REFUSALS = [
    # (case id, config, extra config, key named, words)
    (
        "site-misspelt",
        with_("mirrors[0].region", "eu-centrl-1"),
        {},
        "mirrors[0].region",
        "'eu-centrl-1' is not an AWS region botocore",
    ),
    (
        "site-misspelt-suggests",
        with_("mirrors[0].region", "eu-centrl-1"),
        {},
        "mirrors[0].region",
        "did you mean 'eu-central-1'?",
    ),
    (
        "site-shape-is-not-enough",
        with_("mirrors[0].region", "eu-central-9"),
        {},
        "mirrors[0].region",
        "'eu-central-9' is not an AWS region",
    ),
    (
        "site-no-dash",
        with_("mirrors[0].region", "apsoutheast-2"),
        {},
        "mirrors[0].region",
        "did you mean 'ap-southeast-2'?",
    ),
    ("stack-missing-dash", BASE, {"aws:region": "ap-southeast2"}, "aws:region", "did you mean 'ap-southeast-2'?"),
    (
        "stack-says-how-to-fix",
        BASE,
        {"aws:region": "ap-southeast2"},
        "aws:region",
        "Set it with: pulumi config set aws:region ap-southeast-2",
    ),
    (
        "stack-nothing-close",
        BASE,
        {"aws:region": "moon-base-1"},
        "aws:region",
        "write a region name such as eu-central-1",
    ),
]


@pytest.mark.parametrize("raw, extra, path, words", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_a_region_aws_does_not_have_is_refused(raw, extra, path, words):
    message = problems_of(raw, extra=extra)
    key = path if ":" in path else f"bitbucket-mirrors:{path}"
    assert f"  - {key}: " in message, message
    assert words in message, message


def test_the_stack_region_is_named_as_aws_region_not_under_this_projects_namespace():
    message = problems_of(BASE, extra={"aws:region": "ap-southeast2"})
    assert "  - aws:region: 'ap-southeast2'" in message and "bitbucket-mirrors:aws:region" not in message


def test_a_wrong_stack_region_stops_the_program_with_the_key_before_any_resource(registered):
    config, secret_keys = stack_file_config(EXAMPLE_STACK)
    config["aws:region"] = "ap-southeast2"
    with pytest.raises(ConfigError) as caught:
        run_program(config=config, secret_keys=secret_keys)
    assert str(caught.value).startswith("the stack config has 1 problem;")
    assert "aws:region: 'ap-southeast2' is not an AWS region" in str(caught.value)
    assert registered == []


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("eu-west", "eu-west-1"),  # -1, -2 and -3 match equally well: the most used wins, not the last
        ("us-east", "us-east-1"),
        ("us-west", "us-west-2"),
        ("ap-southeast", "ap-southeast-2"),
        ("eu-central", "eu-central-1"),
        ("ap-northeast", "ap-northeast-1"),
        ("eu-west-3x", "eu-west-3"),  # a closer match is not overruled by how often a region is meant
        ("eu-centrl-1", "eu-central-1"),
    ],
)
def test_a_near_miss_suggests_the_region_most_often_meant(typed, meant):
    assert closest_region(typed) == meant


def test_the_suggestion_reaches_the_message():
    message = problems_of(with_("mirrors[0].region", "eu-west"))
    assert "did you mean 'eu-west-1'?" in message, message
