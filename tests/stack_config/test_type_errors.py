"""Values of the wrong type are refused in plain words, with the value given (unless secret) and what
to write instead; no pydantic wording reaches the user (issue "first hour", item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from stack_config import ConfigError
from stack_config.reference import rows

from .test_stack_config import BASE, DELETE, NGINX_TLS, load, problems_of, with_

CASES = [
    # (case id, config, key named, words)
    (
        "version-as-a-number",
        with_("mirrors[0].bitbucketVersion", 9.4),
        "mirrors[0].bitbucketVersion",
        'expected text, got 9.4; quote it, e.g. bitbucketVersion: "9.4.16"',
    ),
    (
        "display-name-as-a-number",
        with_("mirrors[0].displayName", 2024),
        "mirrors[0].displayName",
        'got 2024; quote it, e.g. displayName: "Sydney mirror"',
    ),
    ("text-as-true", with_("primary.username", True), "primary.username", "got true; quote it"),
    (
        "text-as-a-list",
        with_("primary.url", ["https://bitbucket.example.com"]),
        "primary.url",
        'expected one text value, got a list (e.g. url: "https://bitbucket.example.com")',
    ),
    ("text-as-null", with_("primary.username", None), "primary.username", "got null (no value); give a value"),
    (
        "nodes-in-words",
        with_("mirrors[0].nodes", "three"),
        "mirrors[0].nodes",
        "expected a whole number, got 'three' (e.g. nodes: 3)",
    ),
    ("nodes-fraction", with_("mirrors[0].nodes", 2.5), "mirrors[0].nodes", "expected a whole number, got 2.5"),
    (
        "number-as-a-list",
        with_("mirrors[0].homeVolumeGb", [200]),
        "mirrors[0].homeVolumeGb",
        "expected a whole number, got a list (e.g. homeVolumeGb: 200)",
    ),
    ("number-too-long", with_("primary.sshPort", "7" * 5000), "primary.sshPort", "expected a whole number, got '777"),
    (
        "bool-in-words",
        with_("mirrors[0].mirrorAll", "maybe"),
        "mirrors[0].mirrorAll",
        "expected true or false, got 'maybe' (e.g. mirrorAll: true)",
    ),
    (
        "bool-as-a-list",
        with_("mirrors[0].waitForSync", []),
        "mirrors[0].waitForSync",
        "expected true or false, got a list",
    ),
    (
        "mirrors-as-a-map",
        with_("mirrors", {"syd": {"baseUrl": "https://mirror-syd.example.com"}}),
        "mirrors",
        "expected a list, one entry per item, each starting with '- ' (e.g. '- name: ...' with baseUrl indented under "
        "it), got a map of keys (syd): write each as a list entry and put its key in name:",
    ),
    (
        "list-as-text",
        with_("mirrors[0].projects", "PLAT"),
        "mirrors[0].projects",
        "expected a list, got 'PLAT'; write even one value as a list: projects: [\"PLAT\"]",
    ),
    (
        "list-as-an-object",
        with_("network", {"adminCidrs": {"office": "198.51.100.7/32"}}),
        "network.adminCidrs",
        'expected a list, got an object (a map of keys) (e.g. adminCidrs: ["198.51.100.7/32"])',
    ),
    (
        "list-entry-as-a-number",
        with_("mirrors[0].projects", ["PLAT", 42]),
        "mirrors[0].projects[1]",
        'expected text, got 42; quote each entry, e.g. ["PLAT"]',
    ),
    (
        "object-as-text",
        with_("mirrors[0].tls", "acm"),
        "mirrors[0].tls",
        "expected an object, the keys indented under tls: mode, hostedZoneId, certificateArn, certificate, privateKey, "
        "got 'acm'",
    ),
    (
        "mirror-entry-as-text",
        with_("mirrors", ["syd"]),
        "mirrors[0]",
        "expected an object, an entry of mirrors with the keys name, displayName, baseUrl",
    ),
    ("choice", with_("mirrors[0].os", "windows"), "mirrors[0].os", "expected 'al2023' or 'ubuntu', got 'windows'"),
    (
        "choice-in-capitals",
        with_("mirrors[0].tls.mode", "ACM"),
        "mirrors[0].tls.mode",
        "expected 'acm' or 'nginx', got 'ACM'; did you mean 'acm'?",
    ),
    (
        "below-the-minimum",
        with_("mirrors[0].homeVolumeGb", 5),
        "mirrors[0].homeVolumeGb",
        "expected a number greater than or equal to 20, got 5 (e.g. homeVolumeGb: 200)",
    ),
    (
        "above-the-maximum",
        with_("monitoring", {"homeUsedPercentAlarm": 100}),
        "monitoring.homeUsedPercentAlarm",
        "expected a number less than or equal to 99, got 100 (e.g. homeUsedPercentAlarm: 80)",
    ),
    (
        "empty-text",
        with_("primary.username", ""),
        "primary.username",
        'expected at least 1 character, got an empty value (e.g. username: "mirror-admin")',
    ),
    (
        "missing-key",
        with_("mirrors[0].name", DELETE),
        "mirrors[0].name",
        'is required but missing: add it, e.g. name: "syd"',
    ),
    (
        "missing-object",
        with_("primary", DELETE),
        "primary",
        "is required but missing: add primary: with url and username under it",
    ),
    (
        "missing-list",
        with_("mirrors", DELETE),
        "mirrors",
        "is required but missing: add at least one entry ('- name: ...')",
    ),
    (
        "secret-as-a-number",
        with_("mirrors[0].tls", {**NGINX_TLS, "privateKey": 123456}),
        "mirrors[0].tls.privateKey",
        "expected the PEM private key as text, got a number (the value is not shown); set it from the key file: "
        "pulumi config set --path --secret 'mirrors[0].tls.privateKey' < key.pem",
    ),
    (
        "top-level-object-as-text",
        {**BASE, "primary": "https://bitbucket.example.com"},
        "primary",
        "expected an object, the keys indented under primary: url, username, sshPort, cidrs, caBundle, "
        "got 'https://bitbucket.example.com'",
    ),
]


@pytest.mark.parametrize("raw, path, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wrong_type_is_said_in_plain_words(raw, path, words):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}: " in message, message
    assert words in message, message


def test_config_type_errors_say_which_value_was_given():
    message = problems_of(with_("mirrors[0].nodes", "three", with_("mirrors[0].mirrorAll", "yes please")))
    assert "mirrors[0].nodes: expected a whole number, got 'three'" in message
    assert "mirrors[0].mirrorAll: expected true or false, got 'yes please'" in message


def test_a_top_level_object_given_as_text_is_read_as_text_not_refused_as_broken_json():
    # `primary: https://...` reaches the program as text; it is an object that is expected.
    message = problems_of(BASE, extra={"bitbucket-mirrors:network": "not json {"})
    assert "bitbucket-mirrors:network: expected an object" in message and "got 'not json {'" in message


WRONG_VALUES: list[Any] = [7, 2.5, True, "text", ["a", 1], {"a": 1}, None, ""]


def _leaf_paths() -> list[str]:
    return [key.replace("[]", "[0]") for key, *_ in rows()]


@pytest.mark.parametrize("path", _leaf_paths())
def test_no_pydantic_wording_reaches_the_user_for_any_key(path):
    for value in WRONG_VALUES:
        raw = with_(path, value, with_("mirrors[0].tls", NGINX_TLS) if ".tls." in path else None)
        try:
            load(raw)
            continue
        except ConfigError as exc:  # anything else (a crash in a rule) fails the test
            message = str(exc)
        for pydantic_words in (
            "Input should",
            "Value error,",
            "valid tuple",
            "valid dictionary",
            "instance of",
            "unable to parse",
            "Field required",
        ):
            assert pydantic_words not in message, (value, message)


def test_an_error_type_no_rule_words_yet_still_says_the_key_and_the_value_given():
    # A key added with a type the sentences above do not cover (a fraction, here) is refused in
    # pydantic's reason, but with the value the user wrote, as every other type error is.
    from pydantic import BaseModel, ValidationError

    from stack_config.type_errors import problems_from_validation

    class Sizing(BaseModel):
        ratio: float

    with pytest.raises(ValidationError) as caught:
        Sizing.model_validate({"ratio": "three"})
    (problem,) = problems_from_validation(caught.value, Sizing, prefix=("mirrors", 0))
    assert problem.path == "mirrors[0].ratio"
    assert problem.message.endswith(", got 'three'")
