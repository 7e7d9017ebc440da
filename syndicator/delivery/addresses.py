"""Address classes that make a webhook destination unsafe (loopback, private…).

Pure `ipaddress` work, apart from the guard's httpx transport, so that
`check-config` can classify an endpoint's addresses without loading httpx.
"""

from __future__ import annotations

import ipaddress

__all__ = ["IPAddress", "address_problem"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6052 well-known NAT64 prefix: the low 32 bits are the IPv4 destination.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_problem(address: IPAddress) -> str | None:
    """Name the class that makes ``address`` unsafe (``"loopback"``…), or ``None`` if global."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        for inner in embedded:
            problem = address_problem(inner)
            if problem is not None:
                return f"{problem} (embedded in IPv6)"
        # A mapped or NAT64 address reaches exactly its embedded IPv4 address, which
        # has just passed; the IPv6 form itself is "private" to ipaddress, so stop here.
        if address.ipv4_mapped is not None or address in _NAT64:
            return None
    # Order matters: 127.0.0.1 is also "private" and ::1 also "reserved"; name the
    # most specific class.
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_multicast:
        return "multicast"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    # Transition forms that make a socket (or a relay) reach an IPv4 destination.
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found
