"""kmsKeyArn (stack-wide, per site): a key ARN of the site's own region, or refused naming the key."""

from __future__ import annotations

import pytest

from .test_stack_config import BASE, STACK_REGION, load, problems_of, with_

KEY = f"arn:aws:kms:{STACK_REGION}:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
OTHER = "arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_without_a_key_the_sites_use_aws_managed_keys():
    assert load(BASE).sites[0].kms_key_arn is None


def test_the_stack_wide_key_applies_and_a_site_key_replaces_it():
    assert load(with_("kmsKeyArn", KEY)).sites[0].kms_key_arn == KEY
    alias = f"arn:aws:kms:{STACK_REGION}:123456789012:alias/bitbucket-mirrors"
    raw = with_("mirrors[0].kmsKeyArn", alias, base=with_("kmsKeyArn", KEY))
    assert load(raw).sites[0].kms_key_arn == alias


@pytest.mark.parametrize(
    "value", ["0a1b2c3d-4e5f-6789-abcd-ef0123456789", "alias/mine", "arn:aws:kms:ap-southeast-2:123456789012:key/nope"]
)
def test_a_value_that_is_not_a_key_arn_is_refused_naming_the_key(value):
    message = problems_of(with_("kmsKeyArn", value))
    assert "bitbucket-mirrors:kmsKeyArn" in message and "KMS key ARN" in message


def test_a_stack_wide_key_of_another_region_is_refused_for_the_site_with_the_fix():
    message = problems_of(with_("kmsKeyArn", OTHER))
    assert "bitbucket-mirrors:kmsKeyArn" in message and "eu-central-1" in message and STACK_REGION in message
    assert "mirrors[0].kmsKeyArn" in message  # the fix: the site's own key


def test_a_site_key_of_another_region_is_refused_at_the_sites_key():
    message = problems_of(with_("mirrors[0].kmsKeyArn", OTHER))
    assert "bitbucket-mirrors:mirrors[0].kmsKeyArn" in message and "own region" in message


def test_a_site_in_the_keys_region_takes_it():
    raw = with_("mirrors[0].region", "eu-central-1", base=with_("mirrors[0].kmsKeyArn", OTHER))
    assert load(raw).sites[0].kms_key_arn == OTHER
