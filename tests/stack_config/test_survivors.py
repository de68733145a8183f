"""Decisions a mutation sample of the stack config let through (issue "A house the next engineer can
work in", item 6): each test fails when its line flips."""

from __future__ import annotations

import pytest

from .test_secrets_never_shown import assert_hidden, message_of
from .test_stack_config import PEM_CERT, load, with_


@pytest.mark.parametrize("keep", [1, 50])
def test_backup_keep_accepts_both_ends_of_its_range(keep):
    (site,) = load(with_("backup", {"keep": keep})).sites
    assert site.backup.keep == keep


@pytest.mark.parametrize("keep", [0, 51])
def test_backup_keep_just_outside_its_range_is_refused_naming_the_key_and_the_range(keep):
    message = message_of(with_("backup", {"keep": keep}))
    assert "bitbucket-mirrors:backup.keep" in message
    assert ("1" in message) if keep == 0 else ("50" in message)


SECRET = "Zq4Wm8Tn2Vx6Rb1Kc9Ld"  # a private key's value in a wrong form: plain text, no PEM armour


@pytest.mark.parametrize("key", ["primary.url", "mirrors[0].baseUrl", "mirrors[0].bitbucketVersion"])
def test_a_private_keys_value_pasted_into_another_key_is_never_shown(key):
    raw = with_("mirrors[0].tls", {"mode": "nginx", "certificate": PEM_CERT, "privateKey": SECRET})
    message = message_of(with_(key, f"x{SECRET}", base=raw))
    assert key in message, "the pasted value is refused where it was pasted"
    assert_hidden(message, SECRET)
