"""Client addresses: the one canonical text of an IP address, and its rate-limit key."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> Address | None:
    """The address in `text` (also `[v6]:port` and `v4:port`, as some proxies write it), an
    IPv4-mapped IPv6 address as its IPv4 address; None when it is no address."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical_ip(text: str) -> str:
    """One spelling per address (`2001:DB8:0:0::1` -> `2001:db8::1`, `::ffff:192.0.2.1` ->
    `192.0.2.1`); text that is no address is kept, cut to a sane length."""
    if len(text) > _LONGEST:  # no address is this long: not worth a parse or a cache slot
        return text.strip()[:_LONGEST]
    return _canonical(text)


_LONGEST = 64  # an IPv6 address with a zone, brackets and a port fits


@lru_cache(maxsize=4096)  # ipaddress parsing costs ~5 us; clients come back many times
def _canonical(text: str) -> str:
    address = parse_ip(text)
    return str(address) if address is not None else text.strip()


@lru_cache(maxsize=4096)
def network_key(ip: str, ipv6_prefix: int) -> str:
    """What a rate-limit budget counts for a client: an IPv4 address itself, an IPv6 address
    by its /`ipv6_prefix` network (one subscriber usually holds a whole /64, so counting
    single addresses would hand it 2**64 budgets)."""
    address = parse_ip(ip)
    if address is None:
        return ip
    if address.version == 4:
        return str(address)
    return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
