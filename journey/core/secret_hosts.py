"""Which hosts a secret may be sent to (`JOURNEY_SECRET_HOSTS`), and how hosts are compared.

A secret is a credential for one service, so it is bound to that service's host names: a
journey (or the variables a run was started with) that points a webhook elsewhere must not
carry it there. Patterns are exact host names or IP addresses, or `*.` plus a domain for its
subdomains (not the domain itself). Both sides are compared in one canonical form, the one the
webhook's HTTP client connects to: the host as httpx parses it (IDNA names as their ASCII
`xn--` form), lower-case, without port or trailing dot, IP addresses in their compressed form.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import httpx

__all__ = ["canonical_host", "host_allowed", "host_pattern", "url_host"]

WILDCARD = "*."
# What may remain of a host name once httpx has encoded it (DNS labels; `_` occurs in practice).
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def canonical_host(url: httpx.URL) -> str:
    """The host `url` connects to, in the form bindings are compared in."""
    host = url.raw_host.decode("ascii").lower().removesuffix(".")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host


def url_host(url: str) -> str | None:
    """The canonical host of `url`, or None when it does not parse (nothing will be sent)."""
    try:
        return canonical_host(httpx.URL(url))
    except httpx.InvalidURL:
        return None


def host_pattern(pattern: str) -> str:
    """`pattern` in canonical form; ValueError saying what is wrong with it."""
    text = pattern.strip()
    wildcard = text.startswith(WILDCARD)
    name = text.removeprefix(WILDCARD) if wildcard else text
    bracketed = name.startswith("[") and name.endswith("]")  # an IPv6 address, as in URLs
    if not name or any(char in name for char in "/?#@*% ") or (":" in name and not bracketed):
        raise ValueError(
            f"{pattern!r} is not a host name: give a bare host (`crm.example.com`), an IP "
            "address or `*.` and a domain, without scheme, port or path"
        )
    try:
        host = canonical_host(httpx.URL(f"http://{name}/"))
    except httpx.InvalidURL as exc:
        raise ValueError(f"{pattern!r} is not a host name: {exc}") from None
    is_address = _is_address(host)
    if not is_address and not _HOST_NAME.fullmatch(host):
        raise ValueError(f"{pattern!r} is not a host name")
    if wildcard and (is_address or "." not in host):
        raise ValueError(f"{pattern!r}: `*.` needs a domain of two or more labels after it")
    return WILDCARD + host if wildcard else host


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether canonical `host` matches one of the canonical `patterns`."""
    for pattern in patterns:
        if pattern.startswith(WILDCARD):
            if host.endswith(pattern[1:]):  # ".domain": a label boundary, never the domain
                return True
        elif host == pattern:
            return True
    return False


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
