"""The sending account's message rate, shared by every worker.

Uses the ``limits`` library (the rate limiter behind Flask-Limiter and
slowapi; atomic Lua scripts on Redis) rather than a hand-written bucket: its
moving window holds exactly N hits per second across processes.
"""

from __future__ import annotations

import random
import time
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


@lru_cache(maxsize=4)
def _storage(url: str, prefix: str) -> Storage:
    options = {} if url.startswith("memory://") else {"key_prefix": prefix}
    storage = storage_from_string(url, **options)
    assert isinstance(storage, Storage)  # a sync storage (not the asyncio one)
    return storage


class SendRate:
    """Blocks until the account may send one more message."""

    def __init__(self, *, per_second: int, account: str) -> None:
        storage = _storage(
            settings.BULKYARD_EMAIL_RATE_STORAGE_URL, settings.BULKYARD_EMAIL_RATE_KEY_PREFIX
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(per_second)
        self._account = account

    def acquire(self) -> float:
        """Take one slot, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while not self._limiter.hit(self._item, self._account):
            stats = self._limiter.get_window_stats(self._item, self._account)
            # A little jitter keeps workers that wait together from waking together.
            pause = max(stats.reset_time - time.time(), 0.001) + random.uniform(0, 0.005)
            time.sleep(pause)
            waited += pause
        return waited


def account_rate() -> SendRate:
    return SendRate(
        per_second=settings.BULKYARD_EMAIL_RATE_PER_SECOND, account=settings.BULKYARD_EMAIL_ACCOUNT
    )
