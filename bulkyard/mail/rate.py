"""The sending account's message rate, shared by every worker.

Uses the ``limits`` library (the rate limiter behind Flask-Limiter and
slowapi; atomic scripts on Redis) rather than a hand-written bucket. Its
sliding-window counter costs one Redis call and two counters per check,
whatever the rate. Permits are taken a few at a time (``PERMITS_PER_CALL``):
one Redis round trip per message was a sixth of the time spent per message;
the price is that a chunk may leave a few permits unused at its end.
"""

from __future__ import annotations

import random
import time
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

PERMITS_PER_CALL = 10


@lru_cache(maxsize=4)
def _storage(url: str, prefix: str) -> Storage:
    options = {} if url.startswith("memory://") else {"key_prefix": prefix}
    storage = storage_from_string(url, **options)
    assert isinstance(storage, Storage)  # a sync storage (not the asyncio one)
    return storage


class SendRate:
    """Blocks until the account may send one more message."""

    def __init__(self, *, per_second: int, account: str, window_seconds: int = 1) -> None:
        storage = _storage(
            settings.BULKYARD_EMAIL_RATE_STORAGE_URL, settings.BULKYARD_EMAIL_RATE_KEY_PREFIX
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        # per_second x window_seconds messages per window of that many seconds.
        self._item = RateLimitItemPerSecond(per_second * window_seconds, window_seconds)
        self._account = account
        self._batch = max(1, min(PERMITS_PER_CALL, per_second // 10))
        self._permits = 0

    def acquire(self) -> float:
        """Take one permit, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while not self._permits:
            if self._limiter.hit(self._item, self._account, cost=self._batch):
                self._permits = self._batch
                break
            stats = self._limiter.get_window_stats(self._item, self._account)
            # A little jitter keeps workers that wait together from waking together.
            pause = max(stats.reset_time - time.time(), 0.001) + random.uniform(0, 0.005)
            pause = min(pause, 1.0)
            time.sleep(pause)
            waited += pause
        self._permits -= 1
        return waited

    def available(self) -> bool:
        """Whether a permit could be taken now without waiting."""
        return bool(self._permits) or self._limiter.test(self._item, self._account)


def account_rate() -> SendRate:
    return SendRate(
        per_second=settings.BULKYARD_EMAIL_RATE_PER_SECOND, account=settings.BULKYARD_EMAIL_ACCOUNT
    )
