"""Channels (WebSockets): the channel layer that carries job events from workers
to the web processes. Redis when configured; otherwise in-process memory, in
which case consumers still see workers' progress by reading the database."""

from config.env import env

_layer_url = env.str("CHANNEL_LAYER_URL", default="") or env.str("REDIS_URL", default="")
if _layer_url:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis' layer on a bounded pool that waits for a free
            # connection instead of failing (bulkyard/core/channel_layers.py).
            "BACKEND": "bulkyard.core.channel_layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": _layer_url,
                        # Per web process (per event loop). A group operation
                        # holds one for a round trip; receiving holds one.
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=50),
                        # Seconds an operation waits for a free connection.
                        "timeout": 20,
                    }
                ],
                "prefix": env.str("BULKYARD_REDIS_PREFIX", default="") + "bulkyard-asgi",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# A consumer re-reads its job at least this often, so a lost event (or a
# worker in another process on the in-memory layer) only delays the view.
# With Redis, events arrive at once and the re-read is only a safety net.
BULKYARD_WS_POLL_SECONDS = env.float("BULKYARD_WS_POLL_SECONDS", default=5.0 if _layer_url else 1.0)
# At most one progress message per job per this many seconds, however fast
# chunks finish.
BULKYARD_WS_MIN_INTERVAL_SECONDS = env.float("BULKYARD_WS_MIN_INTERVAL_SECONDS", default=0.25)
# WebSocket tickets: short-lived and single-use, so a long-lived API token
# never travels in a URL.
BULKYARD_WS_TICKET_SECONDS = env.int("BULKYARD_WS_TICKET_SECONDS", default=60)
