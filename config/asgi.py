"""ASGI entry point: one process serves HTTP and WebSockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Settings that differ for the web process read this (the PostgreSQL
# connection pool of config/settings/database.py).
os.environ.setdefault("BULKYARD_SERVER", "asgi")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from bulkyard.core.asgi import BodySizeLimitMiddleware  # noqa: E402
from bulkyard.core.origins import BrowserOriginValidator  # noqa: E402
from bulkyard.jobs.routing import websocket_urlpatterns  # noqa: E402
from bulkyard.users.tickets import TicketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimitMiddleware(django_asgi_app),
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(TicketAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
