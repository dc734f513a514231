"""The address a request counts against, for limits kept per client address
(failed sign-ins, password reset emails).

``REMOTE_ADDR`` is the peer of the web server's connection. Behind the TLS
proxy (``DJANGO_BEHIND_TLS_PROXY``) that peer is the proxy, and the client is
the last address in ``X-Forwarded-For``: the one the proxy added. Entries
left of it came from the client itself and may be anything, so they are
never read; without a proxy the header is ignored altogether.

An IPv6 client counts by its /64 network: one subscriber commonly holds a
whole /64, and counting each of its addresses apart would give it 2**64
budgets.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPV6_NETWORK_PREFIX = 64


def client_address(request: HttpRequest) -> str | None:
    """The client's address as limits count it, or None if the request has none."""
    address = None
    if settings.BULKYARD_CLIENT_ADDRESS_FROM_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        address = _parse(forwarded.rsplit(",", 1)[-1])
    if address is None:
        # No usable header from the proxy: the connection's peer. Every client
        # then shares one budget, which errs on the side of limiting.
        address = _parse(request.META.get("REMOTE_ADDR", ""))
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_NETWORK_PREFIX), strict=False)
        return str(network.network_address)
    return None if address is None else str(address)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None
