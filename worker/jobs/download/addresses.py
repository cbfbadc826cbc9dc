"""The address rule of `mj.download`: a URL's host may lead only to public addresses.

A job result's URLs come from TTAPI, or from anyone who can publish a task on the broker.
Followed blindly, they reach the worker's own network: Redis on 127.0.0.1, a cloud metadata
service on 169.254.169.254, an admin page on 10.x. So every connection resolves its host here
(`AddressGuard.vet`) and is refused if ANY of the host's addresses is unspecified, loopback,
link-local, site-local, multicast, private, reserved or otherwise not globally routable, IPv4
and IPv6 alike; an IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, NAT64
`64:ff9b::/96`, 6to4, Teredo) is judged by the IPv4 address it leads to. The connection then
goes to exactly the addresses checked (`transport`), never to a second lookup.

`allow_private` (MJ_DOWNLOAD_ALLOW_PRIVATE) turns the rule off: for the demo and tests, whose
simulator serves its images on 127.0.0.1. Production leaves it off.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from urllib3.util.connection import allowed_gai_family

from worker.jobs.download.errors import AddressRefused

Address = IPv4Address | IPv6Address
#: One address to connect to, as `socket.socket(family)` and `.connect(sockaddr)` take it.
Resolved = tuple[socket.AddressFamily, tuple[Any, ...]]
Resolver = Callable[[str, int], list[Resolved]]

_NAT64 = ip_network("64:ff9b::/96")


def system_resolve(host: str, port: int) -> list[Resolved]:
    """Every address of `host` the system resolver gives (IPv6 only where the host has it)."""
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


def refusal(address: Address) -> str | None:
    """The rule `address` breaks (`loopback`, `private`, ...), or None for a public address."""
    for judged in _judged_forms(address):
        checks = (
            ("unspecified", judged.is_unspecified),
            ("loopback", judged.is_loopback),
            ("link-local", judged.is_link_local),
            ("site-local", isinstance(judged, IPv6Address) and judged.is_site_local),
            ("multicast", judged.is_multicast),
            ("reserved", judged.is_reserved),
            ("private", judged.is_private),
            ("non-global", not judged.is_global),
        )
        for rule, broken in checks:
            if broken:
                return rule
    return None


def _judged_forms(address: Address) -> list[Address]:
    """What `address` is judged as: itself, or the IPv4 address it carries (and itself)."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
        if address in _NAT64:
            return [IPv4Address(int(address) & 0xFFFF_FFFF)]  # a DNS64 name for a.b.c.d
        if address.sixtofour is not None:
            return [address.sixtofour, address]
        if address.teredo is not None:
            return [*address.teredo, address]
    return [address]


@dataclass(frozen=True)
class AddressGuard:
    """Resolves a host once and hands out its addresses only if every one of them is allowed."""

    allow_private: bool = False
    resolve: Resolver = system_resolve

    def vet(self, host: str, port: int) -> list[Resolved]:
        """Every address of `host`, all checked; AddressRefused names the first bad one."""
        resolved = self.resolve(host, port)
        if not self.allow_private:
            for _, sockaddr in resolved:
                address = ip_address(sockaddr[0])
                rule = self.refusal(host, address)
                if rule is not None:
                    raise AddressRefused(
                        f"download from {host} refused: it resolves to {address} ({rule}); "
                        "only public addresses are allowed unless MJ_DOWNLOAD_ALLOW_PRIVATE "
                        "is set"
                    )
        return resolved

    def refusal(self, host: str, address: Address) -> str | None:
        """The rule `address` (one of `host`'s) breaks, or None; a seam for tests' fakes."""
        return refusal(address)
