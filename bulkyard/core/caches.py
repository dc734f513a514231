"""The default cache, one backend for the whole process."""

from functools import cache

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache


@cache
def process_cache() -> BaseCache:
    """The default cache's backend, made once per process.

    ``django.core.cache.cache`` gives each async context a backend of its own:
    under ASGI a new one for every request and every WebSocket connection,
    with a new connection pool, so each use opened a connection to Redis
    (~0.3 ms of CPU, and a connection accepted by Redis) and dropped it.
    Redis' client is thread-safe; process memory (the embedded default) is one
    store per name whatever the backend instance.
    """
    return caches.create_connection(DEFAULT_CACHE_ALIAS)
