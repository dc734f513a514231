"""The per-host gate on the real Redis, and its per-process twin."""

import asyncio
import itertools
import time

import pytest
from django.conf import settings

from bulkyard.core.http.politeness import HostLimits, LocalHostGate, RedisHostGate


def _gate(request):
    if request.param == "redis":
        return RedisHostGate(
            settings.REDIS_URL, f"{settings.BULKYARD_REDIS_PREFIX}t-{time.time()}:"
        )
    return LocalHostGate()


@pytest.fixture(params=["redis", "local"])
def gate(request):
    return _gate(request)


def test_permits_are_spaced_by_the_rate(gate):
    async def take(count: int) -> list[float]:
        times = []
        for _ in range(count):
            token = await gate.acquire("a.example", HostLimits(10, 20.0), lease_seconds=5)
            times.append(time.monotonic())
            await gate.release("a.example", token)
        await gate.close()
        return times

    times = asyncio.run(take(6))

    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.045
    assert times[-1] - times[0] >= 5 * 0.05 - 0.01


def test_no_more_than_the_cap_are_in_flight(gate):
    in_flight = {"now": 0, "most": 0}

    async def one() -> None:
        token = await gate.acquire("b.example", HostLimits(3, 10_000.0), lease_seconds=5)
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        await asyncio.sleep(0.02)
        in_flight["now"] -= 1
        await gate.release("b.example", token)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(12)))
        await gate.close()

    asyncio.run(main())

    assert in_flight["most"] == 3


def test_a_pause_holds_every_request_to_the_host(gate):
    async def main() -> float:
        await gate.pause("c.example", 0.3)
        started = time.monotonic()
        token = await gate.acquire("c.example", HostLimits(3, 1000.0), lease_seconds=5)
        await gate.release("c.example", token)
        await gate.close()
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.28
