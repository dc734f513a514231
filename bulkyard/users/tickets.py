"""Short-lived, single-use tickets that authenticate a WebSocket connection.

Browsers authenticate WebSockets with their session cookie. API clients hold a
long-lived token, which must not be put in a URL (URLs end up in logs and
proxies); instead they exchange it over HTTPS for a ticket that is good for
one connection within ``BULKYARD_WS_TICKET_SECONDS``.
"""

import secrets
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing

from bulkyard.core.cache import process_cache

SALT = "bulkyard.ws-ticket"


def ws_ticket_issue(*, user: AbstractBaseUser) -> str:
    """A signed ticket naming the user, usable once, expiring soon."""
    return signing.dumps({"u": user.pk, "n": secrets.token_urlsafe(12)}, salt=SALT)


def ws_ticket_redeem(ticket: str) -> AbstractBaseUser | None:
    """The ticket's user, or None if it is forged, expired or already used."""
    try:
        data = signing.loads(ticket, salt=SALT, max_age=settings.BULKYARD_WS_TICKET_SECONDS)
    except signing.BadSignature:
        return None
    # cache.add is atomic: only the first redemption of a nonce succeeds.
    nonce_key, seconds = f"ws-ticket:{data['n']}", settings.BULKYARD_WS_TICKET_SECONDS + 5
    if not process_cache().add(nonce_key, 1, timeout=seconds):
        return None
    return get_user_model().objects.filter(pk=data["u"], is_active=True).first()


class TicketAuthMiddleware:
    """ASGI middleware: ``?ticket=…`` on a WebSocket URL sets ``scope["user"]``.

    Sits inside Channels' AuthMiddlewareStack, so a valid ticket wins over the
    session cookie and an invalid one leaves the connection anonymous."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tickets = parse_qs(scope.get("query_string", b"").decode()).get("ticket")
        if tickets:
            user = await database_sync_to_async(ws_ticket_redeem)(tickets[0])
            scope = {**scope, "user": user or AnonymousUser()}
        return await self.app(scope, receive, send)
