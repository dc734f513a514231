"""The default cache: one backend per process, and a Redis cache that keeps
answering while Redis is away.

The cache holds only what can be lost: API throttling counters, mostly. With
Redis down, Django's Redis cache raises on every call, and every request of a
signed-in user answered 500 (the throttle reads the cache first). This one
falls back to the process's own memory for ``RETRY_SECONDS`` after a failure,
then tries Redis again: throttling goes on per process during an outage,
reads keep working, and nothing waits for a connection that cannot be made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import redis
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

T = TypeVar("T")
# After a failure, Redis is left alone this long.
RETRY_SECONDS = 5.0
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._fallback = LocMemCache(f"fallback-{id(self)}", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
        self._lock = threading.Lock()
        self._away_until = 0.0

    def reachable(self) -> bool:
        """False for ``RETRY_SECONDS`` after Redis failed to answer: callers
        that talk to Redis through this cache's client (a throttle's script)
        leave it alone meanwhile too."""
        with self._lock:
            return time.monotonic() >= self._away_until

    def note_unreachable(self, error: Exception) -> None:
        with self._lock:
            first = self._away_until == 0.0 or time.monotonic() >= self._away_until
            self._away_until = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning("cache: Redis is unreachable (%s); using memory for now", error)

    def _either(self, on_redis: Callable[[], T], on_memory: Callable[[], T]) -> T:
        if self.reachable():
            try:
                return on_redis()
            except _UNREACHABLE as exc:
                self.note_unreachable(exc)
        return on_memory()

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._either(
            lambda: super(ResilientRedisCache, self).add(key, value, timeout, version),
            lambda: self._fallback.add(key, value, timeout, version),
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._either(
            lambda: super(ResilientRedisCache, self).get(key, default, version),
            lambda: self._fallback.get(key, default, version),
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._either(
            lambda: super(ResilientRedisCache, self).set(key, value, timeout, version),
            lambda: self._fallback.set(key, value, timeout, version),
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._either(
            lambda: super(ResilientRedisCache, self).touch(key, timeout, version),
            lambda: self._fallback.touch(key, timeout, version),
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._either(
            lambda: super(ResilientRedisCache, self).delete(key, version),
            lambda: self._fallback.delete(key, version),
        )

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._either(
            lambda: super(ResilientRedisCache, self).get_many(keys, version),
            lambda: self._fallback.get_many(keys, version),
        )

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._either(
            lambda: super(ResilientRedisCache, self).has_key(key, version),
            lambda: self._fallback.has_key(key, version),
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self._either(
            lambda: super(ResilientRedisCache, self).incr(key, delta, version),
            lambda: self._fallback.incr(key, delta, version),
        )

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._either(
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            lambda: self._fallback.set_many(data, timeout, version),
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._either(
            lambda: super(ResilientRedisCache, self).delete_many(keys, version),
            lambda: self._fallback.delete_many(keys, version),
        )

    def clear(self) -> None:
        self._either(
            lambda: super(ResilientRedisCache, self).clear(), lambda: self._fallback.clear()
        )


@cache
def process_cache() -> BaseCache:
    """The default cache's backend, made once per process.

    ``django.core.cache.cache`` gives each async context a backend of its own:
    under ASGI a new one for every request and every WebSocket connection,
    with a new connection pool, so each use opened a connection to Redis
    (a handshake's CPU on both sides) and dropped it.
    Redis' client is thread-safe; process memory (the embedded default) is one
    store per name whatever the backend instance.
    """
    return caches.create_connection(DEFAULT_CACHE_ALIAS)
