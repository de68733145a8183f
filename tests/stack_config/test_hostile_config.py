"""Config values a hostile or careless hand writes, refused at preview naming the key (issue #30 item
4): format characters (bidi overrides, zero-width characters) wherever control characters are
refused; a bastion user that is no POSIX user name; a bastion host key that is not a key ssh can pin;
CIDR lists that open a port to the internet in pieces; a mirror on the primary's host; secrets the
CLI did not hand over as secrets."""

from __future__ import annotations

import json

import pytest

from stack_config import ConfigError, load_stack_config
from stack_config.loader import runtime_secret_keys
from tests.harness import EXAMPLE_STACK, in_runtime, run_program, stack_file_config

from .test_stack_config import (
    BASE,
    BASTION_HOST_KEY,
    ECDSA_256_HOST_KEY,
    NGINX_TLS,
    PEM_KEY,
    STACK_REGION,
    load,
    problems_of,
    with_,
)

RSA_HOST_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDXQqbS5R5enfPDIIUS8+EV4nvq1rkIhnqixyGH/8ovoHN/Fq9QkgES5vbPY9Sy/JuC/ps0mQrQ5"
    "3jjo1qiNWnJj0TeITQ+1/YPwEqyELwEpSujmbDt/XoJkFGGB0hHep7A0tw/5bvMu4pE1ydO+QsBVQAhbQo5HaYbeH/6EbzCV9lmWnWA0UyffpmIYqN"
    "1yDeB64iuhr7TLLT4SYkHSl5ZoNeKPxj9K20GimCRSSNrlCdT8QBhd7RcjYxQDkTs9VzBzyvs/fkW4khCEXkpjEGvgcHNBPDaglzeLfa/XuqQDR2KI"
    "zuCKL9D11MpCdIGcO2ynm2NfhVkPc9WGu7KBhfP"
)
ED25519_BLOB = BASTION_HOST_KEY.split(" ")[1]


def bastion(**changes) -> dict:
    return with_(
        "network", {"bastion": {"host": "10.1.2.3", "privateKey": PEM_KEY, "hostKey": BASTION_HOST_KEY, **changes}}
    )


# ---- format characters ----------------------------------------------------------------------------

FORMAT_CHARACTERS = [
    # (case id, config, key named, the character as the message names it)
    (
        "display-name-bidi-override",
        with_("mirrors[0].displayName", "Sydney \u202egnp.exe"),
        "mirrors[0].displayName",
        "U+202E",
    ),
    (
        "display-name-zero-width-space",
        with_("mirrors[0].displayName", "Syd\u200bney"),
        "mirrors[0].displayName",
        "U+200B",
    ),
    (
        "display-name-line-separator",
        with_("mirrors[0].displayName", "Syd\u2028ney"),
        "mirrors[0].displayName",
        "U+2028",
    ),
    ("username-bidi-isolate", with_("primary.username", "mirror\u2066admin"), "primary.username", "U+2066"),
    ("username-c1-control", with_("primary.username", "mirror\x85admin"), "primary.username", "U+0085"),
    ("os-image-zero-width-joiner", with_("mirrors[0].osImage", "refresh\u200d 2026"), "mirrors[0].osImage", "U+200D"),
    ("primary-url-bidi", with_("primary.url", "https://bitbucket.example.com/\u202e"), "primary.url", "U+202E"),
    (
        "base-url-bom",
        with_("mirrors[0].baseUrl", "https://mirror-syd.example.com\ufeff"),
        "mirrors[0].baseUrl",
        "U+FEFF",
    ),
]


@pytest.mark.parametrize("raw, path, found", [c[1:] for c in FORMAT_CHARACTERS], ids=[c[0] for c in FORMAT_CHARACTERS])
def test_format_characters_are_refused_where_control_characters_are(raw, path, found):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert found in message, message


def test_an_e_mail_address_with_a_format_character_is_refused():
    raw = with_("monitoring", {"emails": ["oncall\u200b@example.com"]})
    message = problems_of(raw)
    assert "bitbucket-mirrors:monitoring.emails[0]: expected an e-mail address" in message, message


@pytest.mark.parametrize(
    "name",
    ["Zürich\xa0mirror", "Sydney 🦘", "Frankfurt (eu-central-1)", "Tōkyō ミラー"],
    ids=["nbsp", "emoji", "ascii", "cjk"],
)
def test_visible_unicode_in_a_display_name_is_kept(name):
    assert load(with_("mirrors[0].displayName", name)).mirrors[0].display_name == name


# ---- the bastion user -----------------------------------------------------------------------------

BAD_USERS = [
    ("newline", "ec2-user\nProxyCommand sh"),
    ("an-ssh-option", "-oProxyCommand=sh"),
    ("a-shell-word", "ec2-user;id"),
    ("a-space", "ec2 user"),
    ("an-at-sign", "ec2-user@evil"),
    ("too-long", "u" * 33),
    ("a-digit-first", "1user"),
]


@pytest.mark.parametrize("user", [c[1] for c in BAD_USERS], ids=[c[0] for c in BAD_USERS])
def test_a_bastion_user_that_is_no_posix_user_name_is_refused(user):
    message = problems_of(bastion(user=user))
    assert "bitbucket-mirrors:network.bastion.user: expected a POSIX user name" in message, message
    assert "\n" not in message.split("network.bastion.user:")[1].split("\n  -")[0], "the value is shown on one line"


@pytest.mark.parametrize("user", ["ec2-user", "ubuntu", "jump.admin", "_svc", "A" * 32])
def test_posix_user_names_are_accepted(user):
    assert load(bastion(user=user)).network.bastion.user == user


# ---- the bastion host key -------------------------------------------------------------------------

BAD_HOST_KEYS = [
    ("carriage-return", BASTION_HOST_KEY + " host\rssh-rsa AAAA", "found U+000D"),
    ("zero-width-in-comment", BASTION_HOST_KEY + " root@\u200bbastion", "found U+200B"),
    ("not-base64", "ssh-ed25519 AAAA!!!!", "is not base64"),
    ("made-up-base64", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastionHostKey", "is not base64"),
    ("stated-type-differs", f"ssh-rsa {ED25519_BLOB}", "the line says ssh-rsa but its key names 'ssh-ed25519'"),
    ("ecdsa-curve-differs", "ecdsa-sha2-nistp521 " + ECDSA_256_HOST_KEY.split(" ")[1], "names 'ecdsa-sha2-nistp256'"),
    ("truncated", "ssh-ed25519 " + ED25519_BLOB[:-8], "not a valid key"),
    ("no-blob-type", "ecdsa-sha2-nistp256 AAAAE2VjZHNh", "names no key type"),
    ("dsa", "ssh-dss AAAAB3NzaC1kc3M=", "of type ssh-ed25519"),
    ("type-only", "ssh-ed25519", "of type ssh-ed25519"),
]


@pytest.mark.parametrize("key, words", [c[1:] for c in BAD_HOST_KEYS], ids=[c[0] for c in BAD_HOST_KEYS])
def test_a_host_key_that_is_not_a_real_ssh_key_is_refused(key, words):
    message = problems_of(bastion(hostKey=key))
    assert "bitbucket-mirrors:network.bastion.hostKey: expected an SSH public key line" in message, message
    assert words in message, message


@pytest.mark.parametrize(
    "key",
    [BASTION_HOST_KEY, BASTION_HOST_KEY + " root@bastion", ECDSA_256_HOST_KEY, RSA_HOST_KEY],
    ids=["ed25519", "with-comment", "ecdsa", "rsa"],
)
def test_real_host_keys_are_accepted(key):
    assert load(bastion(hostKey=key)).network.bastion.host_key == key


# ---- every CIDR list that opens a port ----------------------------------------------------------

CIDR_REFUSALS = [
    (
        "primary-halves",
        with_("primary.cidrs", ["0.0.0.0/1", "128.0.0.0/1"]),
        "primary.cidrs[1]",
        "the mirrors' HTTPS (443)",
    ),
    ("primary-whole-internet", with_("primary.cidrs", ["::/0"]), "primary.cidrs[0]", "to the whole internet"),
    (
        "primary-two-16s",
        with_("primary.cidrs", ["1.2.0.0/16", "1.3.0.0/16"]),
        "primary.cidrs",
        "together these 2 ranges open the mirrors' HTTPS (443) to 131,072",
    ),
    ("client-halves", with_("network.clientCidrs", ["0.0.0.0/1", "128.0.0.0/1"]), "network.clientCidrs[0]", "clones"),
    (
        "site-client-global-ipv6",
        with_("mirrors[0].network", {"clientCidrs": ["2000::/3"]}),
        "mirrors[0].network.clientCidrs[0]",
        "public IPv6 addresses",
    ),
]


@pytest.mark.parametrize("raw, path, words", [c[1:] for c in CIDR_REFUSALS], ids=[c[0] for c in CIDR_REFUSALS])
def test_lists_that_open_a_port_to_the_internet_in_pieces_are_refused(raw, path, words):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert words in message, message


@pytest.mark.parametrize(
    "raw",
    [
        with_("primary.cidrs", ["203.0.113.10/32", "1.2.0.0/16"]),
        with_("network.clientCidrs", ["10.0.0.0/8", "172.16.0.0/12", "52.95.0.0/16"]),
    ],
    ids=["primary-egress", "clients-private-and-a-16"],
)
def test_lists_within_the_bound_are_accepted(raw):
    load(raw)


# ---- a mirror on the primary's host ----------------------------------------------------------------


@pytest.mark.parametrize(
    "primary, base",
    [
        ("https://bitbucket.example.com", "https://bitbucket.example.com"),
        ("https://bitbucket.example.com:8443/bitbucket", "https://BitBucket.Example.com"),
    ],
    ids=["same-url", "other-port-and-case"],
)
def test_a_base_url_on_the_primary_host_is_refused(primary, base):
    raw = with_("mirrors[0].baseUrl", base, with_("primary.url", primary))
    message = problems_of(raw)
    assert "bitbucket-mirrors:mirrors[0].baseUrl: 'bitbucket.example.com' is the primary's host" in message, message


def test_a_base_url_on_another_host_of_the_same_domain_is_accepted():
    load(with_("mirrors[0].baseUrl", "https://mirror.bitbucket.example.com"))


# ---- secrets at preview ---------------------------------------------------------------------------


def _load_with_secret_keys(raw: dict, secret_keys: list[str], password: str = "pw-hunter2"):
    bag = {f"bitbucket-mirrors:{k}": json.dumps(v) for k, v in raw.items()}
    bag["bitbucket-mirrors:primaryPassword"] = password
    bag["aws:region"] = STACK_REGION
    return in_runtime(lambda _loop: load_stack_config(warn=lambda _: None), bag, secret_keys)


NGINX_AND_BASTION = bastion(**{}) | {"mirrors": with_("mirrors[0].tls", NGINX_TLS)["mirrors"]}
ALL_SECRET = ["bitbucket-mirrors:primaryPassword", "bitbucket-mirrors:mirrors", "bitbucket-mirrors:network"]
PLAIN_SECRETS = [
    ("primaryPassword", "bitbucket-mirrors:primaryPassword", "pulumi config set --secret primaryPassword"),
    (
        "network.bastion.privateKey",
        "bitbucket-mirrors:network",
        "pulumi config set --path --secret 'network.bastion.privateKey' < key.pem",
    ),
    (
        "mirrors[0].tls.privateKey",
        "bitbucket-mirrors:mirrors",
        "pulumi config set --path --secret 'mirrors[0].tls.privateKey' < key.pem",
    ),
]


@pytest.mark.parametrize("path, plain_key, command", PLAIN_SECRETS, ids=[c[0] for c in PLAIN_SECRETS])
def test_a_secret_key_the_cli_did_not_hand_over_as_secret_is_refused_at_preview(path, plain_key, command):
    with pytest.raises(ConfigError) as caught:
        _load_with_secret_keys(NGINX_AND_BASTION, [k for k in ALL_SECRET if k != plain_key])
    message = str(caught.value)
    assert f"bitbucket-mirrors:{path}: is not a secret" in message, message
    assert command in message, message
    assert "pw-hunter2" not in message and "super-secret-key-material" not in message
    assert message.count("is not a secret") == 1, message


def test_every_secret_handed_over_as_secret_passes():
    config = _load_with_secret_keys(NGINX_AND_BASTION, ALL_SECRET)
    assert config.network.bastion is not None and config.mirrors[0].tls.private_key is not None


def test_the_language_hosts_environment_counts_as_secret_keys(monkeypatch):
    # A real `pulumi up` passes the secret keys in PULUMI_CONFIG_SECRET_KEYS, not through set_all_config.
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["bitbucket-mirrors:primaryPassword"]))
    bag = {"bitbucket-mirrors:primaryPassword": "pw", "bitbucket-mirrors:mirrors": "[]"}
    assert in_runtime(lambda _loop: runtime_secret_keys(bag), bag, []) == {"bitbucket-mirrors:primaryPassword"}


@pytest.mark.slow  # runs the program under the mocks
def test_a_plain_text_password_stops_the_real_program_before_any_resource(registered):
    config, secret_keys = stack_file_config(EXAMPLE_STACK)
    assert "bitbucket-mirrors:primaryPassword" in secret_keys
    with pytest.raises(ConfigError) as caught:
        run_program(config=config, secret_keys=[k for k in secret_keys if k != "bitbucket-mirrors:primaryPassword"])
    assert "bitbucket-mirrors:primaryPassword: is not a secret" in str(caught.value)
    assert "pulumi config set --secret primaryPassword" in str(caught.value)
    assert registered == []


def test_base_stays_valid():
    load(BASE)
