"""Where outbound requests may go: server-side request forgery (SSRF) rules.

Users choose the URLs, the workers make the requests, so by default nothing on
the workers' own networks is reachable: loopback, private, link-local (cloud
metadata at 169.254.169.254), shared, multicast, reserved and unspecified
addresses, over IPv4 and IPv6, including IPv4 addresses carried in IPv6
(mapped, NAT64, 6to4, Teredo). Each host name is resolved once, its addresses
are checked, and the connection goes to a checked address: there is no second
lookup for a rebinding DNS server to answer differently. Every redirect hop is
checked the same way. Host spellings the resolver understands (``2130706433``,
``0x7f.1``) resolve to the addresses they mean and are checked as such.

Operators open specific internal destinations with ``BULKYARD_HTTP_ALLOWED_HOSTS``:
``host``, ``host:port``, an address or a network (``10.1.0.0/16``, ``[fd00::1]:8080``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from django.conf import settings
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT


class Refused(Exception):
    """A destination the rules do not allow; the message says which and why."""

    code = "destination_refused"


class InvalidURL(Refused):
    code = "invalid_url"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    host: str | None = None  # a host name, lower case
    network: IPNetwork | None = None
    port: int | None = None

    def allows(self, *, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address is not None and address in self.network
        return host.lower().rstrip(".") == self.host


def parse_allow_entry(entry: str) -> AllowEntry:
    """``host``, ``host:port``, ``10.0.0.0/8``, ``[::1]:8080``, ``192.168.1.5:443``."""
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
        text = inside
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = int(port_text)
    try:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        return AllowEntry(host=text.lower().rstrip("."), port=port)


@lru_cache(maxsize=8)
def _allow_list(entries: tuple[str, ...]) -> tuple[AllowEntry, ...]:
    return tuple(parse_allow_entry(entry) for entry in entries if entry.strip())


def allow_list() -> tuple[AllowEntry, ...]:
    return _allow_list(tuple(settings.BULKYARD_HTTP_ALLOWED_HOSTS))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why requests may not go to this address, or None if they may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"{reason} (IPv4 {embedded} inside IPv6)" if reason else None
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (cloud metadata lives there)"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private-network address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def check_address(*, host: str, address: IPAddress, port: int) -> None:
    """Raise ``Refused`` unless requests may go to ``address`` (for ``host``)."""
    reason = blocked_reason(address)
    if reason is None:
        return
    if any(entry.allows(host=host, address=address, port=port) for entry in allow_list()):
        return
    shown = host if host == str(address) else f"{host} ({address})"
    raise Refused(
        f"{shown} is {reason}; requests to internal addresses are refused "
        "(an operator can allow a host with BULKYARD_HTTP_ALLOWED_HOSTS)"
    )


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    # Other spellings of an IPv4 address that resolvers accept: 2130706433,
    # 0x7f.1, 0177.0.0.1 all mean 127.0.0.1.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeEncodeError):
        return None


def check_url(raw: str | URL) -> URL:
    """The URL, if requests may be made to it; raises ``InvalidURL`` or
    ``Refused``. A host given as an address is checked here; a name is checked
    when it is resolved (``GuardedResolver``)."""
    try:
        url = raw if isinstance(raw, URL) else URL(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidURL(f"{raw!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise InvalidURL(f"only http and https URLs are allowed, not {url.scheme or 'none'!r}")
    if not url.host:
        raise InvalidURL(f"{str(url)!r} has no host")
    if url.user is not None or url.password is not None:
        raise InvalidURL(
            "URLs with a user name or password are refused; send an Authorization header"
        )
    try:
        port = url.port
    except ValueError as exc:
        raise InvalidURL(f"{str(url)!r}: {exc}") from None
    if port is None or not 0 < port < 65536:
        raise InvalidURL(f"{str(url)!r} has no valid port")
    _check_literal_host(url.host, port, allow_list())
    return url


@lru_cache(maxsize=1024)
def _check_literal_host(host: str, port: int, allowed: tuple[AllowEntry, ...]) -> None:
    """A host written as an address, checked once per process (the same hosts
    come back request after request); ``allowed`` is part of the cache key."""
    address = _literal_address(host)
    if address is not None:
        check_address(host=host, address=address, port=port)
        if host.strip("[]") != str(address) and ":" not in host:
            raise InvalidURL(f"write the address {host} as {address}")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses requests may go to.
    aiohttp connects to what this returns, so the address checked is the
    address used."""

    def __init__(self, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        return allowed_results(host, port, results)

    async def close(self) -> None:
        await self._resolver.close()


def allowed_results(host: str, port: int, results: Sequence[ResolveResult]) -> list[ResolveResult]:
    kept: list[ResolveResult] = []
    refusals: list[str] = []
    for result in results:
        address = ipaddress.ip_address(result["host"].split("%")[0])
        try:
            check_address(host=host, address=address, port=port)
        except Refused as exc:
            refusals.append(str(exc))
        else:
            kept.append(result)
    if not kept:
        raise Refused(refusals[0] if refusals else f"{host} resolves to no address")
    return kept


def refusal_in(exc: BaseException) -> Refused | None:
    """The ``Refused`` behind an exception aiohttp raised, if that is what it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Refused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__ or getattr(current, "os_error", None)
    return None
