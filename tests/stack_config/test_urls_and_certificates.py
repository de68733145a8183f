"""Every URL key's characters, scheme, host and port, and the PEM certificates (primary.caBundle,
mirrors[].tls.certificate) read as certificates, at preview (issue "hostile primary", items 8, 9)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.certificates import self_signed

from .test_stack_config import NGINX_TLS, PEM_CERT, PEM_KEY, load, problems_of, with_

URL_KEYS = ["primary.url", "mirrors[0].baseUrl", "mirrors[0].installer.url"]


def url_config(key: str, url: str) -> dict[str, Any]:
    if key == "mirrors[0].installer.url":
        return with_("mirrors[0].installer", {"url": url})
    return with_(key, url)


BAD_URLS = [
    # (case id, url, words)
    ("tab", "https://mirror.exa\tmple.com", "U+0009"),
    ("line-feed", "https://mirror.example.com/a\nb", "U+000A"),
    ("carriage-return", "https://mirror.example.com\r/x", "U+000D"),
    ("nul", "https://mirror.example.com/\x00", "U+0000"),
    ("delete", "https://mirror.example.com/\x7f", "U+007F"),
    ("c1-control", "https://mirror.example.com/a\x85b", "U+0085"),
    ("port-99999", "https://mirror.example.com:99999", "got ':99999'"),
    ("port-65536", "https://mirror.example.com:65536", "got ':65536'"),
    ("port-0", "https://mirror.example.com:0", "got ':0'"),
    ("port-not-a-number", "https://mirror.example.com:https", "a port from 1 to 65535"),
    ("port-empty", "https://mirror.example.com:/", "got ':'"),
    ("port-unicode-digits", "https://mirror.example.com:٤٤٣", "a port from 1 to 65535"),
    ("http", "http://mirror.example.com", "expected an https:// URL"),
    ("ftp", "ftp://mirror.example.com", "expected an https:// URL"),
    ("no-scheme", "mirror.example.com", "expected an https:// URL"),
    ("one-slash", "https:/mirror.example.com", "https://<hostname>"),
    ("no-host", "https://", "https://<hostname>"),
    ("underscore-host", "https://mirror_1.example.com", "https://<hostname>"),
    ("space-in-host", "https://mirror example.com", "https://<hostname>"),
    ("ipv4-out-of-range", "https://10.0.0.300", "https://<hostname>"),
    ("broken-ipv6", "https://[::1", "https://<hostname>[:port][/path]"),
    ("query", "https://mirror.example.com/?a=b", "without query or fragment"),
    ("empty-query", "https://mirror.example.com/?", "without query or fragment"),
    ("fragment", "https://mirror.example.com/#top", "without query or fragment"),
]


@pytest.mark.parametrize("url, words", [c[1:] for c in BAD_URLS], ids=[c[0] for c in BAD_URLS])
@pytest.mark.parametrize("key", URL_KEYS)
def test_every_url_key_refuses_what_a_tool_would_read_differently(key, url, words):
    message = problems_of(url_config(key, url))
    assert f"bitbucket-mirrors:{key}:" in message, message
    assert words in message, message


@pytest.mark.parametrize(
    "url",
    [
        "https://bitbucket.example.com:1",
        "https://bitbucket.example.com:65535/bitbucket",
        "https://10.1.2.3",
        "HTTPS://Bitbucket.Example.com",
    ],
)
@pytest.mark.parametrize("key", ["primary.url", "mirrors[0].installer.url"])
def test_ports_hosts_and_schemes_at_the_edge_are_accepted(key, url):
    load(url_config(key, url))


def test_a_url_with_control_characters_fails_at_preview_not_during_up():
    # urlsplit drops TAB, LF and CR: the parts look fine while the string the program uses is not.
    message = problems_of(with_("primary.url", "https://bitbucket.exa\nmple.com"))
    assert "'https://bitbucket.exa\\nmple.com'" in message
    assert message.count("\n") == 1, message  # the heading and one problem: the LF is escaped, never printed


CA = self_signed("Example Private CA", ca=True)
OTHER_CA = self_signed("Another CA", ca=True)
MARKERS_ONLY = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
FAKE = "-----BEGIN CERTIFICATE-----\nMIIBfakeButLooksRight0123456789abcdefABCDEF==\n-----END CERTIFICATE-----\n"

BAD_PEM = [
    # (case id, text, words)
    ("markers-only", MARKERS_ONLY, "has nothing between its BEGIN and END lines"),
    ("placeholder-body", FAKE, "block 1 of 1 is not a readable X.509 certificate"),
    ("second-block-broken", CA + FAKE, "block 2 of 2 is not a readable X.509 certificate"),
    ("second-block-truncated", CA + "-----BEGIN CERTIFICATE-----\nMIIB", "has no -----END line"),
    ("no-pem-at-all", "my CA", "expected PEM certificate text"),
    ("mismatched-markers", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n", "ends as X509 CRL"),
    ("other-pem-kind", "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n", "is a X509 CRL"),
    ("private-key", PEM_KEY, "holds a private key"),
]


@pytest.mark.parametrize("text, words", [c[1:] for c in BAD_PEM], ids=[c[0] for c in BAD_PEM])
def test_a_ca_bundle_is_read_as_certificates(text, words):
    message = problems_of(with_("primary.caBundle", text))
    assert "bitbucket-mirrors:primary.caBundle:" in message and words in message, message
    assert "super-secret-key-material" not in message


@pytest.mark.parametrize("text, words", [c[1:] for c in BAD_PEM], ids=[c[0] for c in BAD_PEM])
def test_a_tls_certificate_is_read_as_certificates(text, words):
    message = problems_of(with_("mirrors[0].tls", {**NGINX_TLS, "certificate": text}))
    assert "bitbucket-mirrors:mirrors[0].tls.certificate:" in message and words in message, message


@pytest.mark.parametrize(
    "bundle",
    [CA, CA + OTHER_CA, f"# Example Private CA\n{CA}\n# Another\n{OTHER_CA}"],
    ids=["one", "two", "with-explanatory-text"],
)
def test_real_ca_bundles_are_accepted(bundle):
    assert load(with_("primary.caBundle", bundle)).primary.ca_bundle == bundle.strip()


HOST = "mirror-syd.example.com"  # BASE's base URL
CERTIFICATES = [
    # (case id, certificate chain, accepted)
    ("names-the-host", PEM_CERT, True),
    ("wildcard-of-the-domain", self_signed("*.example.com", "*.example.com"), True),
    ("one-of-several-names", self_signed("other", "other.example.com", HOST.upper()), True),
    ("common-name-without-san", self_signed(HOST), True),
    ("server-certificate-first", PEM_CERT + CA, True),
    ("another-host", self_signed("mirror-fra.example.com", "mirror-fra.example.com"), False),
    ("wildcard-one-label-only", self_signed("*.syd.example.com", "*.syd.example.com"), False),
    ("wildcard-of-another-domain", self_signed("*.example.org", "*.example.org"), False),
    ("common-name-ignored-with-san", self_signed(HOST, "other.example.com"), False),
    ("ca-first", CA + PEM_CERT, False),
]


@pytest.mark.parametrize("chain, accepted", [c[1:] for c in CERTIFICATES], ids=[c[0] for c in CERTIFICATES])
def test_the_nginx_certificate_must_name_the_base_url_host(chain, accepted):
    raw = with_("mirrors[0].tls", {**NGINX_TLS, "certificate": chain})
    if accepted:
        load(raw)
        return
    message = problems_of(raw)
    assert "bitbucket-mirrors:mirrors[0].tls.certificate: the first certificate (the one nginx serves) names" in message
    assert f"not {HOST} (the host of mirrors[0].baseUrl)" in message and f"give the chain for {HOST}" in message


@pytest.mark.parametrize(
    "host, accepted", [("mirror.example.com", True), ("deep.mirror.example.com", False), ("example.com", False)]
)
def test_a_wildcard_stands_for_exactly_one_label(host, accepted):
    raw = with_(
        "mirrors[0].baseUrl",
        f"https://{host}",
        with_("mirrors[0].tls", {**NGINX_TLS, "certificate": self_signed("*.example.com", "*.example.com")}),
    )
    if accepted:
        load(raw)
    else:
        assert f"names *.example.com, not {host}" in problems_of(raw)


def test_the_certificate_host_rule_waits_for_a_base_url_that_validates():
    raw = with_(
        "mirrors[0].baseUrl",
        "http://mirror-syd.example.com",
        with_("mirrors[0].tls", {**NGINX_TLS, "certificate": self_signed("x", "x.example.com")}),
    )
    message = problems_of(raw)
    assert "mirrors[0].baseUrl" in message and "tls.certificate" not in message
