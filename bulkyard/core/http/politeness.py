"""Per-host politeness shared by every worker: a cap on requests in flight and
a rate, per destination host.

One Lua script on Redis takes a slot and a rate permit atomically in one round
trip (the ``limits`` library used for the email rate cannot tie a permit to a
concurrency slot, and two calls per request would double the Redis traffic).
The rate is a GCRA (generic cell rate algorithm): one timestamp per host, the
time the next request may start; each permit moves it on by 1/rate. Requests
may run ahead of it by a small burst (5 % of a second's worth, at least one),
so high rates need not wait on timer resolution while low rates stay strictly
spaced. Slots are leases: a worker that dies frees its slots when they expire.
A host that answered 429/503 with Retry-After is paused for every worker.
Times come from the Redis server's clock, so workers' clocks do not matter.

Without Redis (the embedded default) the same rules hold per process.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

# KEYS: slots (sorted set of leases), next (GCRA time), paused (until).
# ARGV: batch id, lease ms, concurrency cap, interval ms, tolerance ms, wanted,
# then slot members to release first. Returns {granted, wait ms as text}.
_ACQUIRE = """
for i = 7, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then return {0, tostring(paused_until - now)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1])
if free <= 0 then return {0, '-1'} end
local interval = tonumber(ARGV[4])
local tat = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
local room = tonumber(ARGV[5]) - (tat - now)
if room < 0 then return {0, tostring(-room)} end
local granted = math.min(tonumber(ARGV[6]), free, math.floor(room / interval) + 1)
local next_time = tat + granted * interval
redis.call('SET', KEYS[2], tostring(next_time), 'PX', math.ceil(next_time - now) + 1000)
local expiry = now + tonumber(ARGV[2])
for i = 1, granted do redis.call('ZADD', KEYS[1], expiry, ARGV[1] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
return {granted, '0'}
"""

_PAUSE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', math.ceil(tonumber(ARGV[1])) + 1000)
end
return 1
"""

# How long a waiter sleeps when every slot is taken: short, jittered.
_SLOT_POLL_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class HostLimits:
    concurrency: int
    rate_per_second: float

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.rate_per_second

    @property
    def burst(self) -> int:
        return max(1, math.floor(self.rate_per_second * 0.05))

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * (self.burst - 1)

    @property
    def batch(self) -> int:
        """Permits a worker fetches at once: a small share of what a host
        allows, so that workers share it fairly."""
        return max(1, min(32, self.concurrency // 8, self.burst))


class HostGate(Protocol):
    async def acquire(self, host: str, limits: HostLimits, lease_seconds: float) -> str: ...
    async def release(self, host: str, token: str) -> None: ...
    async def pause(self, host: str, seconds: float) -> None: ...
    async def close(self) -> None: ...


async def _wait(milliseconds: float) -> None:
    if milliseconds < 0:  # no slot free
        await asyncio.sleep(_SLOT_POLL_SECONDS * (1 + random.random()))
    else:
        await asyncio.sleep(milliseconds / 1000 + random.uniform(0, 0.002))


class RedisHostGate:
    """The gate on Redis. Permits are fetched a few at a time (``HostLimits.batch``)
    and finished slots are returned with the next fetch: two Redis calls per
    request were a third of a worker's time per request."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)
        self._prefix = prefix
        self._granted: dict[str, list[str]] = {}
        self._finished: dict[str, list[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._batches: dict[str, int] = {}

    def _keys(self, host: str) -> list[str]:
        base = f"{self._prefix}{host.lower()}"
        return [f"{base}:slots", f"{base}:next", f"{base}:paused"]

    async def acquire(self, host: str, limits: HostLimits, lease_seconds: float) -> str:
        granted = self._granted.setdefault(host, [])
        lock = self._locks.setdefault(host, asyncio.Lock())
        self._batches[host] = limits.batch
        while not granted:
            async with lock:  # one fetch per host at a time; the others wait for it
                if granted:
                    break
                finished, self._finished[host] = self._finished.get(host, []), []
                batch = uuid.uuid4().hex
                args: list[str | int | float] = [batch, int(lease_seconds * 1000)]
                args += [limits.concurrency, limits.interval_ms, limits.tolerance_ms]
                args += [limits.batch, *finished]
                count, wait = await self._acquire(keys=self._keys(host), args=args)
                granted.extend(f"{batch}:{n}" for n in range(1, int(count) + 1))
                if not granted:
                    await _wait(float(wait))
        return granted.pop()

    async def release(self, host: str, token: str) -> None:
        finished = self._finished.setdefault(host, [])
        finished.append(token)
        if len(finished) >= self._batch_of(host):
            self._finished[host] = []
            await self._redis.zrem(self._keys(host)[0], *finished)

    def _batch_of(self, host: str) -> int:
        # Finished slots go back once a fetch's worth have piled up (or with
        # the next fetch); with permits fetched one at a time, at once.
        return self._batches.get(host, 1)

    async def pause(self, host: str, seconds: float) -> None:
        await self._pause(keys=[self._keys(host)[2]], args=[seconds * 1000])

    async def close(self) -> None:
        """Hand back finished slots and permits fetched but not used."""
        for host in set(self._granted) | set(self._finished):
            members = self._granted.get(host, []) + self._finished.get(host, [])
            if members:
                await self._redis.zrem(self._keys(host)[0], *members)
        self._granted, self._finished = {}, {}
        await self._redis.aclose()


@dataclass
class _LocalHost:
    slots: dict[str, float] = field(default_factory=dict)
    next_ms: float = 0.0
    paused_until_ms: float = 0.0


class LocalHostGate:
    """The same rules within one process (the embedded default has no Redis)."""

    _hosts: dict[str, _LocalHost] = {}

    async def acquire(self, host: str, limits: HostLimits, lease_seconds: float) -> str:
        state = self._hosts.setdefault(host.lower(), _LocalHost())
        token = uuid.uuid4().hex
        while True:
            now = time.monotonic() * 1000
            wait = self._try(state, now, token, limits, lease_seconds)
            if wait == 0:
                return token
            await _wait(wait)

    @staticmethod
    def _try(
        state: _LocalHost, now: float, token: str, limits: HostLimits, lease_seconds: float
    ) -> float:
        if state.paused_until_ms > now:
            return state.paused_until_ms - now
        state.slots = {t: expiry for t, expiry in state.slots.items() if expiry > now}
        if len(state.slots) >= limits.concurrency:
            return -1
        tat = max(state.next_ms, now)
        if tat - now > limits.tolerance_ms:
            return tat - now - limits.tolerance_ms
        state.next_ms = tat + limits.interval_ms
        state.slots[token] = now + lease_seconds * 1000
        return 0

    async def release(self, host: str, token: str) -> None:
        self._hosts.get(host.lower(), _LocalHost()).slots.pop(token, None)

    async def pause(self, host: str, seconds: float) -> None:
        state = self._hosts.setdefault(host.lower(), _LocalHost())
        state.paused_until_ms = max(state.paused_until_ms, time.monotonic() * 1000 + seconds * 1000)

    async def close(self) -> None:
        return None


def host_gate() -> HostGate:
    url = settings.BULKYARD_HTTP_GATE_URL
    if url:
        return RedisHostGate(url, settings.BULKYARD_HTTP_GATE_KEY_PREFIX)
    return LocalHostGate()
