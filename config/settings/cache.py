"""Cache: Redis when configured (shared by every web process, so per-user
throttling holds across them), else process-local memory."""

from config.env import env

_redis = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="")
if _redis:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis,
            "KEY_PREFIX": env.str("BULKYARD_REDIS_PREFIX", default="") + "bulkyard",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
