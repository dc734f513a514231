"""Cache: Redis when configured (shared by every web process, so per-user
throttling holds across them), else process-local memory. While Redis is
away, the cache falls back to process memory (bulkyard/core/cache.py)."""

from config.env import env

_redis = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="")
if _redis:
    CACHES = {
        "default": {
            "BACKEND": "bulkyard.core.cache.ResilientRedisCache",
            "LOCATION": _redis,
            # A Redis that does not answer must not hold a request for long.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            "KEY_PREFIX": env.str("BULKYARD_REDIS_PREFIX", default="") + "bulkyard",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
