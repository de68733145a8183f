"""What the primary needs from the config to reach its mirrors, judged before anything is created.

The primary calls each mirror on 443 (approval, then every sync's notifications). A site lets in on
443 its client CIDRs and `primary.cidrs`; without `primary.cidrs` the primary gets through only if
its egress address lies within some client CIDR, and nothing said so: the mirror was created and then
never approved or never synced. Preview resolves the primary's host and refuses; the offline check
cannot resolve (no network) and warns, unless the URL names an address.

Also: a primary URL that ends in `/scm`, the prefix of its clone URLs, is not its base URL.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable, Iterable, Optional, Sequence, Union
from urllib.parse import urlsplit

from .errors import Problem
from .model import Network, StackModel
from .sites import site_network

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
FIX = "set primary.cidrs to the primary's egress addresses (e.g. its NAT or proxy address as a /32)"


def scm_suffix_warning(url: str) -> Optional[str]:
    """A warning for a primary URL ending in /scm (the clone prefix), None otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = parts.path.rstrip("/")
    if not path.lower().endswith("/scm"):
        return None
    base = parts._replace(path=path[: -len("/scm")], query="", fragment="").geturl()
    return (
        f"primary.url: '{url}' ends in /scm, the prefix of the primary's clone URLs, not its base URL; "
        f"the mirror calls the REST API under the base URL: write {base} (the URL of the primary's web pages)"
    )


def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to (socket.gaierror when it does not). Tests replace this."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})


def _sites_without_primary(stack: StackModel) -> list[tuple[str, tuple[str, ...]]]:
    """(label, client CIDRs) of each site whose 443 rule would not admit a primary without
    primary.cidrs: those that set client CIDRs (a site on the VPC default is not judged here: its
    VPC's CIDR is known only to AWS)."""
    sites = []
    for i, mirror in enumerate(stack.mirrors):
        network: Network = site_network(stack.network, mirror.network)
        if network.client_cidrs:
            sites.append((f"mirrors[{i}] ({mirror.name})", tuple(network.client_cidrs)))
    return sites


def _outside(address: Address, cidrs: Iterable[str]) -> bool:
    return not any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)


def _host_of(stack: StackModel) -> str:
    return (urlsplit(stack.primary.url).hostname or "").rstrip(".")


def _literal(host: str) -> Optional[Address]:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refusal(host: str, addresses: Sequence[Address], shut_out: list[tuple[str, tuple[str, ...]]]) -> Problem:
    where = "; ".join(f"{label}: {', '.join(cidrs)}" for label, cidrs in shut_out)
    shown = ", ".join(str(a) for a in addresses)
    return Problem(
        "primary.cidrs",
        f"is not set, and the primary ({host}, at {shown}) lies outside the client CIDRs of {where}: the "
        f"primary could not reach those mirrors on 443 to approve and notify them; {FIX}",
    )


def primary_reach_problems(
    stack: StackModel, warn: Callable[[str], None], resolver: Optional[Callable[[str], list[str]]]
) -> list[Problem]:
    """Refuse (at preview, `resolver` given) a primary shut out of a site's 443; warn when it cannot be told
    (offline, `resolver` None, or a host that does not resolve)."""
    if stack.primary.cidrs:
        return []
    sites = _sites_without_primary(stack)
    if not sites:
        return []
    host = _host_of(stack)
    literal = _literal(host)
    if literal is not None:
        addresses: list[Address] = [literal]
    elif resolver is None:
        warn(
            f"primary.cidrs is not set: the primary reaches {', '.join(label for label, _ in sites)} on 443 only if "
            f"its address lies within their client CIDRs; preview resolves {host} and refuses otherwise. {FIX}"
        )
        return []
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host)]
        except (OSError, UnicodeError, ValueError) as exc:
            warn(
                f"primary.cidrs is not set and {host} did not resolve here ({exc}), so its reach is not checked; {FIX}"
            )
            return []
    shut_out = [(label, cidrs) for label, cidrs in sites if all(_outside(a, cidrs) for a in addresses)]
    return [_refusal(host, addresses, shut_out)] if shut_out and addresses else []
