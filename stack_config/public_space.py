"""How much of the public internet a list of CIDRs lets in, to bound who may reach SSH and JMX.

Refusing only a /0 is easy to get around (0.0.0.0/1 + 128.0.0.0/1, or 2000::/3): the bound is on
the public addresses a whole key list covers, after merging overlaps. Private, shared (CGNAT),
loopback, link-local, documentation, multicast and reserved ranges do not count: no packet from
the internet comes from them.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Iterable, Union

Net = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# The bound, per key list: a list may cover at most the public addresses of one /16 (IPv4) and of
# one /48 (IPv6). A company's egress ranges fit in that; "the internet, in pieces" does not.
MAX_PUBLIC_IPV4_PREFIX = 16
MAX_PUBLIC_IPV6_PREFIX = 48
MAX_PUBLIC_IPV4 = 2 ** (32 - MAX_PUBLIC_IPV4_PREFIX)
MAX_PUBLIC_IPV6 = 2 ** (128 - MAX_PUBLIC_IPV6_PREFIX)
BOUND_WORDS = (
    f"at most a /{MAX_PUBLIC_IPV4_PREFIX} of public IPv4 and a /{MAX_PUBLIC_IPV6_PREFIX} of "
    "public IPv6 in total per list (private ranges do not count)"
)

# IANA's special-purpose IPv4 blocks that are not globally reachable (RFC 6890 and successors).
# Disjoint, so what a network shares with them can be summed.
_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
    )
)
# Global unicast is 2000::/3; inside it only the documentation prefix is never routed.
_PUBLIC_V6 = ipaddress.IPv6Network("2000::/3")
_NOT_PUBLIC_V6 = (ipaddress.IPv6Network("2001:db8::/32"),)


def _shared(a: Net, b: Net) -> int:
    """Addresses two CIDRs have in common (CIDRs either nest or are disjoint)."""
    if a.subnet_of(b):  # type: ignore[arg-type]
        return a.num_addresses
    if b.subnet_of(a):  # type: ignore[arg-type]
        return b.num_addresses
    return 0


def public_addresses(network: Net) -> int:
    if network.version == 4:
        return network.num_addresses - sum(_shared(network, block) for block in _NOT_PUBLIC_V4)
    return _shared(network, _PUBLIC_V6) - sum(_shared(network, block) for block in _NOT_PUBLIC_V6)


@dataclass(frozen=True)
class PublicSpace:
    """How many public IPv4 and IPv6 addresses a CIDR list covers (overlaps counted once), and
    whether that is over the bound: a list over it is refused at preview."""

    ipv4: int
    ipv6: int

    @property
    def too_wide(self) -> bool:
        return self.ipv4 > MAX_PUBLIC_IPV4 or self.ipv6 > MAX_PUBLIC_IPV6

    def words(self) -> str:
        """'131,072 public IPv4 addresses', 'about 2^125 public IPv6 addresses': the families over the bound."""
        parts = []
        if self.ipv4 > MAX_PUBLIC_IPV4:
            parts.append(f"{self.ipv4:,} public IPv4 addresses")
        if self.ipv6 > MAX_PUBLIC_IPV6:
            parts.append(f"{_power_of_two(self.ipv6)} public IPv6 addresses")
        return " and ".join(parts)


def _power_of_two(n: int) -> str:
    exponent = math.log2(n)
    if n == 2 ** int(exponent):
        return f"2^{int(exponent)}"
    return f"about 2^{exponent:.1f}".replace(".0", "")


def public_space(cidrs: Iterable[str]) -> PublicSpace:
    """The public addresses a list of CIDRs covers together, overlaps counted once."""
    networks = [ipaddress.ip_network(c) for c in cidrs]
    merged_v4 = ipaddress.collapse_addresses(n for n in networks if n.version == 4)
    merged_v6 = ipaddress.collapse_addresses(n for n in networks if n.version == 6)
    return PublicSpace(sum(public_addresses(n) for n in merged_v4), sum(public_addresses(n) for n in merged_v6))
