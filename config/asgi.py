"""ASGI entry point: one process serves HTTP and WebSockets."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Settings that differ for the web process read this (the PostgreSQL
# connection pool of config/settings/database.py).
os.environ.setdefault("BULKYARD_SERVER", "asgi")

# Django must be set up before anything imports models (as Django's
# get_asgi_application does; its handler is replaced by SyncStackHandler).
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from bulkyard.core.asgi import BodySizeLimitMiddleware, SyncStackHandler  # noqa: E402
from bulkyard.core.origins import BrowserOriginValidator  # noqa: E402
from bulkyard.jobs.routing import websocket_urlpatterns  # noqa: E402
from bulkyard.users.tickets import TicketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimitMiddleware(SyncStackHandler()),
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(TicketAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
