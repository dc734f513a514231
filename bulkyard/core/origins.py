"""Origin checking for WebSockets."""

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Channels' AllowedHostsOriginValidator, except that a handshake without an
    ``Origin`` header is let through.

    The check defends against cross-site WebSocket hijacking: a page on another
    site opening a socket with the victim's cookies. Browsers always send
    ``Origin``, so a mismatching one is refused. Clients that send none are not
    browsers; they hold no ambient cookies and authenticate with a ticket.
    """

    def __init__(self, application: Any) -> None:
        hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not hosts:
            hosts = [".localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, hosts)

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return bool(self.validate_origin(parsed_origin))
