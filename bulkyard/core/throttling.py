"""Request throttles that cost the same at any rate.

DRF's throttles keep, per user, the list of every request's time in the
window, read and written back whole on each request: at 200 status reads a
second for one user, 12,000 floats pickled and sent to Redis and back each
time, and two web processes writing their lists over each
other's lose requests from the count. These count requests in two fixed
windows instead, and estimate the sliding window from them (the previous
window's count weighted by how much of it the sliding window still covers):
two integers per user and scope, checked and incremented in one atomic
round trip to Redis, over a connection kept for the process
(bulkyard/core/cache.py).
"""

from typing import TYPE_CHECKING

import redis
from django.core.cache.backends.base import BaseCache
from rest_framework import throttling
from rest_framework.request import Request

from bulkyard.core.cache import ResilientRedisCache, process_cache
from bulkyard.core.client_ip import client_address

if TYPE_CHECKING:  # rest_framework.views imports this module (the default throttles)
    from rest_framework.views import APIView

# Counts the request in the current window if the estimate allows it; a
# refused request is not counted, as with DRF's throttles.
_CHECK_AND_COUNT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then
  return {0, current, previous}
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, current + 1, previous}
"""


class WindowCountThrottle(throttling.SimpleRateThrottle):
    """DRF's SimpleRateThrottle (same rates, scopes and cache keys), counting
    in two fixed windows: see the module's docstring."""

    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        return self.allow_key(key)

    def get_ident(self, request: Request) -> str:
        """The client address anonymous requests count against. DRF's own
        reads X-Forwarded-For whenever ``NUM_PROXIES`` is unset, so a client
        could name a new address for each request."""
        return client_address(request._request) or "unknown"

    def allow_key(self, key: str) -> bool:
        """Whether a request counted under ``key`` is allowed (it is then counted)."""
        self.key = key
        window, into = divmod(self.timer(), self.duration)
        self.into_window = into
        # The share of the previous window that the sliding window still covers.
        weight = 1.0 - into / self.duration
        self.weight = weight
        names = (f"{key}:{int(window)}", f"{key}:{int(window) - 1}")
        allowed, self.current, self.previous = _check_and_count(
            process_cache(), names, limit=self.num_requests, weight=weight, ttl=2 * self.duration
        )
        return allowed

    def wait(self) -> float | None:
        """Seconds until the estimate falls below the limit (for Retry-After)."""
        limit, duration = self.num_requests, self.duration
        if self.current >= limit:
            # Not before the next window, whose previous count will be ours.
            return duration - self.into_window + duration * (1 - limit / max(self.current, 1))
        if not self.previous:
            return None
        # The previous window's weight falls linearly through this one.
        cover = 1.0 - (limit - self.current) / self.previous
        return max(cover * duration - self.into_window, 0.0)


class UserRateThrottle(WindowCountThrottle, throttling.UserRateThrottle):
    """Per user (per address for anonymous requests): the ``user`` rate."""


class AnonRateThrottle(WindowCountThrottle, throttling.AnonRateThrottle):
    """Anonymous requests, per address: the ``anon`` rate."""


def _check_and_count(
    store: BaseCache, names: tuple[str, str], *, limit: int, weight: float, ttl: int
) -> tuple[bool, int, int]:
    """Whether the request is allowed (it is then counted), and the counts
    of the current and previous windows."""
    if isinstance(store, ResilientRedisCache) and store.reachable():
        keys = [store.make_and_validate_key(name) for name in names]
        try:
            # Django's Redis cache has no call for a script: its client does.
            client = store._cache.get_client(keys[0], write=True)  # type: ignore[attr-defined]
            allowed, current, previous = client.eval(_CHECK_AND_COUNT, 2, *keys, limit, weight, ttl)
            return bool(allowed), int(current), int(previous)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Redis unreachable: the cache answers from this process's memory
            # for a while, and the calls below count there meanwhile.
            store.note_unreachable(exc)
    # Any other cache (process memory on the embedded default): the same
    # counts, in a check and an increment that other processes may interleave.
    counts = store.get_many(names)
    current, previous = int(counts.get(names[0], 0)), int(counts.get(names[1], 0))
    if previous * weight + current >= limit:
        return False, current, previous
    if not store.add(names[0], 1, ttl):
        store.incr(names[0])
    return True, current + 1, previous
