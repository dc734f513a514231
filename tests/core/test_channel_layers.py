"""The Redis channel layer's pool, against the real Redis."""

import asyncio
import uuid

import redis
from channels.layers import get_channel_layer
from django.conf import settings

from bulkyard.core.channel_layers import RedisChannelLayer


def _layer(**host_options) -> RedisChannelLayer:
    prefix = f"{settings.BULKYARD_REDIS_PREFIX}test-layer-{uuid.uuid4().hex[:8]}"
    return RedisChannelLayer(hosts=[{"address": settings.REDIS_URL, **host_options}], prefix=prefix)


def test_group_operations_beyond_the_pool_wait_for_a_connection():
    layer = _layer(max_connections=5)
    channels = [f"specific.{n}!" for n in range(200)]

    async def join_then_leave() -> None:
        await asyncio.gather(*(layer.group_add("crowd", name) for name in channels))
        await asyncio.gather(*(layer.group_discard("crowd", name) for name in channels))
        await layer.flush()

    asyncio.run(join_then_leave())

    group_key = layer._group_key("crowd")  # channels_redis' own key
    assert redis.Redis.from_url(settings.REDIS_URL).zcard(group_key) == 0


def test_the_configured_layer_takes_a_burst_larger_than_redis_pys_default_pool():
    layer = get_channel_layer()  # redis-py's own pool refused a 101st connection

    async def burst() -> None:
        await asyncio.gather(*(layer.group_discard("crowd", f"specific.{n}!") for n in range(300)))
        await layer.flush()

    asyncio.run(burst())


def test_a_cancelled_receive_ends_whenever_the_cancel_lands():
    """On Python 3.11 a socket timeout makes redis-py send through
    ``asyncio.wait_for``, which can swallow a cancel that lands as a send
    completes: the receive loop of a closed consumer then goes on."""

    async def receive_then_cancel(delay: float) -> bool:
        layer = _layer()
        receiving = asyncio.ensure_future(layer.receive(await layer.new_channel()))
        await asyncio.sleep(delay)
        receiving.cancel()
        _, pending = await asyncio.wait([receiving], timeout=3)
        for task in pending:
            task.cancel()
        await layer.flush()
        return not pending

    # The window is a fraction of a millisecond around each command sent
    # while the layer connects and starts its first blocking pop.
    delays = [n / 10_000 for n in range(50)]
    assert [d for d in delays if not asyncio.run(receive_then_cancel(d))] == []
