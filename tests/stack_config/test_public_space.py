"""adminCidrs (SSH) and metricsCidrs (JMX) may not cover, together, more public address space than a
/16 of IPv4 and a /48 of IPv6 per key list, after merging overlaps; private ranges do not count
(issue "hostile primary", item 7: refusing only a /0 was easy to get around)."""

from __future__ import annotations

import pytest

from stack_config.public_space import MAX_PUBLIC_IPV4, MAX_PUBLIC_IPV6, public_space
from stack_config.reference import rows

from .test_stack_config import load, problems_of, with_


def admin(*cidrs: str) -> dict:
    return with_("network", {"adminCidrs": list(cidrs)})


def metrics(*cidrs: str, at: str = "monitoring") -> dict:
    return with_(at, {"jmxExporter": True, "metricsCidrs": list(cidrs)})


REFUSALS = [
    # (case id, config, key named, words)
    (
        "two-halves-of-ipv4",
        admin("0.0.0.0/1", "128.0.0.0/1"),
        "network.adminCidrs[0]",
        "2,092,957,696 public IPv4 addresses",
    ),
    ("second-half", admin("0.0.0.0/1", "128.0.0.0/1"), "network.adminCidrs[1]", "1,609,300,992 public IPv4 addresses"),
    ("all-global-ipv6", admin("2000::/3"), "network.adminCidrs[0]", "about 2^125 public IPv6 addresses"),
    ("a-public-15", admin("1.2.0.0/15"), "network.adminCidrs[0]", "131,072 public IPv4 addresses"),
    (
        "two-public-16s",
        admin("1.2.0.0/16", "1.3.0.0/16"),
        "network.adminCidrs",
        "together these 2 ranges open SSH to 131,072 public IPv4 addresses",
    ),
    (
        "one-address-past-the-bound",
        admin("1.2.0.0/17", "1.2.128.0/17", "1.3.0.1/32"),
        "network.adminCidrs",
        "65,537 public IPv4 addresses",
    ),
    ("two-ipv6-48s", admin("2001:db9::/48", "2001:db9:1::/48"), "network.adminCidrs", "2^81 public IPv6 addresses"),
    ("an-ipv6-47", admin("2600::/47"), "network.adminCidrs[0]", "2^81 public IPv6 addresses"),
    (
        "site-admin-cidrs",
        with_("mirrors[0].network", {"adminCidrs": ["0.0.0.0/1"]}),
        "mirrors[0].network.adminCidrs[0]",
        "opens SSH to",
    ),
    (
        "metrics-halves",
        metrics("0.0.0.0/1", "128.0.0.0/1"),
        "monitoring.metricsCidrs[1]",
        "opens the JVM's metrics (9404) to",
    ),
    (
        "metrics-two-16s",
        metrics("1.2.0.0/16", "1.3.0.0/16"),
        "monitoring.metricsCidrs",
        "together these 2 ranges open the JVM's metrics (9404) to 131,072",
    ),
    (
        "site-metrics",
        metrics("2000::/3", at="mirrors[0].monitoring"),
        "mirrors[0].monitoring.metricsCidrs[0]",
        "public IPv6 addresses",
    ),
]


@pytest.mark.parametrize("raw, path, words", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_ranges_wider_than_the_bound_are_refused(raw, path, words):
    message = problems_of(raw)
    assert f"bitbucket-mirrors:{path}:" in message, message
    assert words in message, message
    assert "at most a /16 of public IPv4 and a /48 of public IPv6 in total per list" in message


ACCEPTED = [
    ("exactly-a-public-16", admin("1.2.0.0/16")),
    ("two-17s-merge-into-a-16", admin("1.2.0.0/17", "1.2.128.0/17")),
    ("overlap-counted-once", admin("1.2.0.0/16", "1.2.3.0/24", "1.2.3.4/32")),
    ("private-ranges-do-not-count", admin("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")),
    ("private-next-to-a-public-16", admin("10.0.0.0/8", "1.2.0.0/16")),
    ("documentation-ranges", admin("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")),
    ("exactly-an-ipv6-48", admin("2001:db9::/48")),
    ("unique-local-ipv6", admin("fc00::/7", "fe80::/10")),
    ("a-16-and-a-48", admin("1.2.0.0/16", "2001:db9::/48")),
    ("metrics-private", metrics("10.9.0.0/16", "172.16.0.0/12")),
]


@pytest.mark.parametrize("raw", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_ranges_within_the_bound_are_accepted(raw):
    load(raw)


def test_public_space_is_counted_after_merging_and_without_private_ranges():
    assert public_space(["1.2.0.0/16", "1.2.0.0/17"]).ipv4 == MAX_PUBLIC_IPV4
    assert public_space(["10.0.0.0/8"]).ipv4 == 0
    assert public_space(["0.0.0.0/0"]).ipv4 == 3_702_258_688  # IANA's globally reachable IPv4
    assert public_space(["2001:db9::/48"]).ipv6 == MAX_PUBLIC_IPV6
    assert public_space(["::/0"]).ipv6 == public_space(["2000::/3"]).ipv6 == 2**125 - 2**96
    assert not public_space(["1.2.0.0/16", "2001:db9::/48"]).too_wide
    assert public_space(["1.2.0.0/16", "1.3.0.0/32"]).too_wide


def test_the_whole_internet_keeps_its_own_words():
    assert "'0.0.0.0/0' opens SSH to the whole internet" in problems_of(admin("0.0.0.0/0"))
    assert "'::/0' opens the JVM's metrics (9404) to the whole internet" in problems_of(metrics("::/0"))


def test_the_bound_is_stated_in_the_config_reference():
    described = {key: meaning for key, _, _, meaning in rows()}
    for key in (
        "network.adminCidrs",
        "mirrors[].network.adminCidrs",
        "monitoring.metricsCidrs",
        "mirrors[].monitoring.metricsCidrs",
    ):
        assert "at most a /16 of public IPv4 and a /48 of public IPv6 in total per list" in described[key], key
        assert "private ranges do not count" in described[key], key
