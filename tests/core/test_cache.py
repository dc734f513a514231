"""The cache keeps answering, from process memory, while its Redis is away."""

import time

import pytest

from bulkyard.core import cache as resilient
from bulkyard.core.cache import ResilientRedisCache
from tests.support.private import PrivateRedis


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def _cache(server) -> ResilientRedisCache:
    return ResilientRedisCache(
        server.url, {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )


def test_values_go_to_redis_while_it_answers(redis_server):
    cache = _cache(redis_server)

    cache.set("k", "v", 60)

    assert cache.get("k") == "v"
    assert redis_server.client().dbsize() == 1


def test_with_redis_gone_the_cache_answers_from_memory_at_once(redis_server):
    cache = _cache(redis_server)
    redis_server.kill()

    started = time.monotonic()
    cache.set("k", "v", 60)
    assert cache.get("k") == "v"
    assert cache.add("other", 1, 60) is True
    assert cache.incr("other") == 2

    assert time.monotonic() - started < 2


def test_redis_is_tried_again_once_the_pause_is_over(redis_server, monkeypatch):
    monkeypatch.setattr(resilient, "RETRY_SECONDS", 0.2)
    cache = _cache(redis_server)
    redis_server.kill()
    cache.set("k", "memory", 60)
    redis_server.start()
    time.sleep(0.3)

    cache.set("k", "redis", 60)

    assert redis_server.client().dbsize() == 1
    assert cache.get("k") == "redis"


def test_throttling_keeps_counting_while_redis_is_away(redis_server):
    from rest_framework.throttling import SimpleRateThrottle

    cache = _cache(redis_server)
    redis_server.kill()

    class TwoPerMinute(SimpleRateThrottle):
        rate = "2/min"
        scope = "test"

        def get_cache_key(self, request, view):
            return "throttle-test"

    TwoPerMinute.cache = cache
    answers = [TwoPerMinute().allow_request(None, None) for _ in range(3)]

    assert answers == [True, True, False]
