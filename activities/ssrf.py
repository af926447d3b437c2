"""The SSRF guard of outgoing webhooks: where a journey-supplied URL may send a request.

Journey authors (and the user data their URL templates read) choose webhook URLs, and the
worker usually sits inside a network with metadata endpoints, databases and admin ports. So
before any request the destination host is resolved *once* and refused if any of its addresses
is not a public unicast address, unless `webhook_allowlist` opens it.

The request is then sent to the checked address itself (`Destination.url` carries the IP) with
the original `Host` header and, for https, the original name as TLS SNI and certificate
hostname. Nothing resolves the name a second time, so a DNS answer that changes between check
and connect (DNS rebinding) cannot redirect the request to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

__all__ = ["ALLOWED_SCHEMES", "Allowlist", "Destination", "DestinationBlocked", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Ranges that `ipaddress` does not flag (or that deserve a precise message), checked explicitly.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationBlocked(Exception):
    """The destination is refused; the message names the rule (e.g. "10.0.0.1 is private")."""


class DestinationUnresolved(Exception):
    """The host name did not resolve (may be transient: DNS outages heal)."""


class Allowlist:
    """Hostnames and CIDRs from `webhook_allowlist` that the guard lets through.

    A host is allowed when its name is listed, or when every address it resolves to lies in a
    listed network ("127.0.0.1" is the network 127.0.0.1/32).
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(_normal_name(entry))

    def allows_name(self, host: str) -> bool:
        return _normal_name(host) in self.names

    def allows_addresses(self, addresses: Iterable[IPAddress]) -> bool:
        return all(any(ip in net for net in self.networks) for ip in addresses)


@dataclass(frozen=True)
class Destination:
    """A checked destination: `url` names the address to connect to, the rest the original."""

    url: httpx.URL  # the request URL with the host replaced by the checked address
    host: str  # the original host name, for SNI and certificate checks
    host_header: str  # the original `Host` header value (host[:port])
    address: IPAddress


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def block_reason(ip: IPAddress) -> str | None:
    """The rule that refuses `ip` as a destination ("loopback", ...), None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 address are judged by the address they reach.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = block_reason(embedded)
            return None if inner is None else f"{inner} (embeds {embedded})"
    rules: list[tuple[bool, str]] = [
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, f"carrier-grade NAT ({_CGNAT})"),
        (ip in _UNIQUE_LOCAL, f"unique-local ({_UNIQUE_LOCAL})"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        # Documentation, benchmarking and other special-purpose ranges.
        (not ip.is_global, "not a public address"),
    ]
    for matched, rule in rules:
        if matched:
            return rule
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in resolver order, without duplicates."""
    literal = _ip_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationUnresolved(f"{host} does not resolve: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        # IPv6 link-local answers may carry a zone ("fe80::1%eth0"); the zone does not matter.
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise DestinationUnresolved(f"{host} resolved to no address")
    return found


async def resolve(url: httpx.URL, allowlist: Allowlist) -> list[Destination]:
    """The checked destinations of `url`, one per resolved address, in the order to try.

    Raises DestinationBlocked for a refused scheme or address, DestinationUnresolved when the
    name does not resolve.
    """
    if url.scheme not in ALLOWED_SCHEMES:
        raise DestinationBlocked(f"scheme {url.scheme!r} is not allowed; only http and https")
    # The ASCII (IDNA) form: what DNS, SNI and certificates use.
    host = url.raw_host.decode("ascii")
    if not host:
        raise DestinationBlocked(f"{url} names no host")
    port = url.port or DEFAULT_PORTS[url.scheme]
    addresses = await _addresses(host, port)
    if not (allowlist.allows_name(host) or allowlist.allows_addresses(addresses)):
        for ip in addresses:
            rule = block_reason(ip)
            if rule is not None:
                literal = _ip_literal(host) is not None
                named = str(ip) if literal else f"{host} resolves to {ip}, which"
                raise DestinationBlocked(f"{named} is {rule}; webhook_allowlist can allow it")
    host_header = url.netloc.decode("ascii")
    return [
        Destination(url=url.copy_with(host=str(ip)), host=host, host_header=host_header, address=ip)
        for ip in addresses
    ]
