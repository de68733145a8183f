"""No message ever contains a secret key's value, or a URL's user info, query or fragment: preview
output and CI logs keep every line (issue "hostile primary", item 6).

Each secret key gets a recognisable secret in each wrong form (and pasted into every other key);
each URL key gets credentials and tokens in each way a URL can be wrong.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stack_config import ConfigError
from stack_config.reference import rows
from tests.harness import EXAMPLE_STACK, run_program, stack_file_config

from .test_stack_config import BASE, BASTION_HOST_KEY, NGINX_TLS, PEM_CERT, load, with_

SECRET = "Hq7Zt2pW9vKmX4rLb8Nq"  # a password, or the body of a key
KEY = f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE{SECRET}AAAA\n-----END OPENSSH PRIVATE KEY-----\n"
NUMBER = 8675309123
RUN = 12  # no run of this many characters of a secret may appear either


def message_of(raw: dict[str, Any], **kwargs) -> str:
    """The ConfigError's text, or '' when the config is accepted (nothing printed, nothing leaked)."""
    try:
        load(raw, **kwargs)
    except ConfigError as exc:
        return str(exc)
    return ""


def assert_hidden(message: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in message, message
        runs = [secret[i : i + RUN] for i in range(len(secret) - RUN + 1)]
        assert not [r for r in runs if r in message], message


BASTION = {"host": "bastion.example.com", "hostKey": BASTION_HOST_KEY}

# Where each secret key lives, and a config around it in which the key is used.
SECRET_KEYS = {
    "network.bastion.privateKey": lambda v: with_("network", {"bastion": {**BASTION, "privateKey": v}}),
    "mirrors[0].network.bastion.privateKey": lambda v: with_(
        "mirrors[0].network", {"bastion": {**BASTION, "privateKey": v}}
    ),
    "mirrors[0].tls.privateKey": lambda v: with_("mirrors[0].tls", {**NGINX_TLS, "privateKey": v}),
    "mirrors[0].tls.privateKey (acm)": lambda v: with_("mirrors[0].tls.privateKey", v),
}
WRONG_FORMS = {
    "plain-text": SECRET,
    "pem-without-end": f"-----BEGIN PRIVATE KEY-----\n{SECRET}",
    "armour-missing": f"b3BlbnNzaC1rZXktdjE{SECRET}",
    "number": NUMBER,
    "list": [SECRET],
    "object": {"key": SECRET},
    "nested-list": [[KEY]],
}


@pytest.mark.parametrize("form", WRONG_FORMS, ids=list(WRONG_FORMS))
@pytest.mark.parametrize("key", SECRET_KEYS, ids=list(SECRET_KEYS))
def test_a_secret_key_in_a_wrong_form_is_refused_without_showing_it(key, form):
    message = message_of(SECRET_KEYS[key](WRONG_FORMS[form]))
    path = key.split(" ")[0]
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert_hidden(message, SECRET, str(NUMBER))


def test_swapped_bastion_key_and_host_key_show_neither():
    # The issue's report: the whole private key was printed into preview output.
    message = message_of(
        with_("network", {"bastion": {"host": "bastion.example.com", "privateKey": BASTION_HOST_KEY, "hostKey": KEY}})
    )
    assert "bitbucket-mirrors:network.bastion.hostKey:" in message and "got a private key (not shown)" in message
    assert "network.bastion.privateKey: expected a PEM private key" in message and "swapped with hostKey" in message
    assert_hidden(message, SECRET)


def test_swapped_tls_certificate_and_key_show_neither():
    message = message_of(with_("mirrors[0].tls", {"mode": "nginx", "certificate": KEY, "privateKey": PEM_CERT}))
    assert "mirrors[0].tls.certificate: holds a private key" in message
    assert (
        "mirrors[0].tls.privateKey: expected a PEM private key" in message and "swapped with tls.certificate" in message
    )
    assert_hidden(message, SECRET)


def _every_key() -> list[tuple[str, str]]:
    """(path as written for mirror 0, type) of every key in the config reference."""
    return [
        (key.replace("[]", "[0]"), type_) for key, type_, _, _ in rows() if type_ not in ("object", "list of object")
    ]


@pytest.mark.parametrize("path, type_", _every_key(), ids=[p for p, _ in _every_key()])
def test_a_private_key_pasted_into_any_key_is_never_shown(path, type_):
    value: Any = [KEY] if type_.startswith("list") else KEY
    raw = with_(path, value, with_("mirrors[0].tls", NGINX_TLS) if ".tls." in path else None)
    assert_hidden(message_of(raw), SECRET)


PASTED = [
    ("primary.url", SECRET),
    ("primary.url", f"https://x/{SECRET}?"),
    ("mirrors[0].baseUrl", f"ftp://{SECRET}"),
    ("network.bastion.host", f"{SECRET} host"),
    ("mirrors[0].displayName", f"{SECRET}\tx"),
    ("primary.username", f"{SECRET}:"),
    ("mirrors[0].projects", [f"{SECRET}-1"]),
    ("mirrors[0].region", SECRET),
    ("mirrors[0].instanceType", SECRET),
    ("network.adminCidrs", [SECRET]),
]


@pytest.mark.parametrize("place, value", PASTED, ids=[f"{place}-{i}" for i, (place, _) in enumerate(PASTED)])
def test_the_password_pasted_into_another_key_is_never_shown(place, value):
    message = message_of(with_(place, value), password=SECRET)
    assert f"bitbucket-mirrors:{place}" in message, message
    assert_hidden(message, SECRET)


def test_a_short_password_pasted_into_another_key_is_never_shown():
    short = "Zq8vT2kW"  # shorter than the runs masked inside long secrets: masked whole
    message = message_of(with_("primary.url", short), password=short)
    assert "bitbucket-mirrors:primary.url:" in message and short not in message


@pytest.mark.parametrize(
    "password",
    ["", json.dumps({"password": SECRET}), json.dumps([SECRET]), f"{SECRET}密码"],
    ids=["empty", "object", "list", "not-latin-1"],
)
def test_a_password_in_a_wrong_form_is_refused_without_showing_it(password):
    message = message_of(BASE, password=password)
    assert "bitbucket-mirrors:primaryPassword:" in message
    assert_hidden(message, SECRET)


USER, TOKEN, FRAGMENT = "PW-SECRET-1x9", "TOKEN-SECRET-2y8", "FRAG-SECRET-3z7"
URL_KEYS = ["primary.url", "mirrors[0].baseUrl", "mirrors[0].installer.url"]
URL_FORMS = {
    "credentials": f"https://alice:{USER}@host.example.com/",
    "query": f"https://host.example.com/?token={TOKEN}",
    "fragment": f"https://host.example.com/#access_token={FRAGMENT}",
    "http-with-both": f"http://alice:{USER}@host.example.com/?token={TOKEN}",
    "ftp-with-query": f"ftp://host.example.com/x?token={TOKEN}#{FRAGMENT}",
    "port-too-big": f"https://host.example.com:99999/?token={TOKEN}",
    "port-not-a-number": f"https://host.example.com:https/?token={TOKEN}",
    "tab-in-host": f"https://host.exa\tmple.com/?token={TOKEN}",
    "nul-in-path": f"https://host.example.com/a\x00b?token={TOKEN}",
    "bad-host": f"https://host_name.example.com/?token={TOKEN}",
    "trailing-dot": f"https://host.example.com./?token={TOKEN}",
    "no-scheme": f"alice:{USER}@host.example.com/?token={TOKEN}",
    "broken-ipv6": f"https://[::1/?token={TOKEN}",
    "at-in-password": f"https://alice:{USER}@x@host.example.com/",
    "query-without-path": f"https://host.example.com?token={TOKEN}",
}


def _url_config(key: str, url: str) -> dict[str, Any]:
    if key == "mirrors[0].installer.url":
        return with_("mirrors[0].installer", {"url": url})
    return with_(key, url)


@pytest.mark.parametrize("form", URL_FORMS, ids=list(URL_FORMS))
@pytest.mark.parametrize("key", URL_KEYS)
def test_a_url_is_never_shown_with_its_credentials_query_or_fragment(key, form):
    message = message_of(_url_config(key, URL_FORMS[form]))
    assert f"bitbucket-mirrors:{key}:" in message, message
    assert_hidden(message, USER, TOKEN, FRAGMENT)
    assert "\t" not in message and "\x00" not in message  # control characters are escaped, never printed


def test_a_refused_url_still_shows_where_it_points():
    message = message_of(with_("primary.url", f"https://bitbucket.example.com:99999/context?token={TOKEN}"))
    assert "got ':99999' in 'https://bitbucket.example.com:99999/context?…'" in message


def _example_with(change) -> tuple[dict[str, str], list[str]]:
    config, secret_keys = stack_file_config(EXAMPLE_STACK)
    change(config)
    return config, secret_keys


@pytest.mark.slow  # runs the program
def test_the_program_refuses_the_issues_examples_without_printing_them():
    def hostile(config: dict[str, str]) -> None:
        primary = json.loads(config["bitbucket-mirrors:primary"])
        primary["url"] = f"https://bitbucket.example.com/?token={TOKEN}"
        config["bitbucket-mirrors:primary"] = json.dumps(primary)
        network = json.loads(config["bitbucket-mirrors:network"])
        network["bastion"] = {"host": "bastion.example.com", "privateKey": BASTION_HOST_KEY, "hostKey": KEY}
        config["bitbucket-mirrors:network"] = json.dumps(network)

    config, secret_keys = _example_with(hostile)
    with pytest.raises(ConfigError) as caught:
        run_program(config=config, secret_keys=secret_keys)
    message = str(caught.value)
    for path in ("primary.url", "network.bastion.hostKey", "network.bastion.privateKey"):
        assert f"bitbucket-mirrors:{path}:" in message
    assert_hidden(message, SECRET, TOKEN)


def test_warnings_never_show_a_secret_either():
    warnings: list[str] = []
    load(with_("mirrors[0].instanceType", f"x{SECRET.lower()}9.large"), password=SECRET.lower(), warnings=warnings)
    assert warnings and all(SECRET.lower() not in w for w in warnings)
