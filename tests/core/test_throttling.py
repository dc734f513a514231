"""Request throttles counting in two windows, on the real Redis cache."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from bulkyard.core.throttling import UserRateThrottle, _check_and_count

pytestmark = pytest.mark.django_db

MINUTE = 60.0
VIEW = APIView()
WINDOW_START = 1_000_000 * MINUTE  # a window boundary, far from today's keys


class Clock:
    """The throttle's timer (DRF's ``timer`` attribute), set by the test."""

    def __init__(self) -> None:
        self.now = WINDOW_START

    def __call__(self) -> float:
        return self.now


def _throttle_class(rate: str, clock: Clock) -> type[UserRateThrottle]:
    # A scope of its own: its keys are new to the shared test Redis.
    scope = f"test-{uuid.uuid4().hex}"
    return type(
        "Throttle",
        (UserRateThrottle,),
        {"scope": scope, "THROTTLE_RATES": {scope: rate}, "timer": staticmethod(clock)},
    )


def _request(user) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/jobs/"))
    request.user = user
    return request


def _allowed(throttle_class: type[UserRateThrottle], user, times: int) -> list[bool]:
    return [throttle_class().allow_request(_request(user), VIEW) for _ in range(times)]


def test_requests_beyond_the_rate_are_refused(user):
    throttle = _throttle_class("3/min", Clock())

    assert _allowed(throttle, user, 5) == [True, True, True, False, False]


def test_the_previous_windows_requests_count_by_the_share_still_covered(user):
    clock = Clock()
    throttle = _throttle_class("3/min", clock)
    _allowed(throttle, user, 3)

    clock.now = WINDOW_START + 1.5 * MINUTE  # half of the previous window still covered

    # 3 x 0.5 = 1.5 counted: two more fit under 3.
    assert _allowed(throttle, user, 3) == [True, True, False]


def test_refused_requests_are_not_counted(user):
    clock = Clock()
    throttle = _throttle_class("3/min", clock)
    _allowed(throttle, user, 8)  # 3 allowed, 5 refused

    clock.now = WINDOW_START + 1.5 * MINUTE

    assert _allowed(throttle, user, 3) == [True, True, False]


def test_a_request_is_allowed_once_retry_after_has_passed(user):
    clock = Clock()
    throttle = _throttle_class("3/min", clock)
    clock.now = WINDOW_START + 6
    _allowed(throttle, user, 3)
    refused = throttle()
    assert not refused.allow_request(_request(user), VIEW)
    wait = refused.wait()
    assert wait is not None

    clock.now += wait - 1
    assert _allowed(throttle, user, 1) == [False]
    clock.now += 2  # DRF rounds Retry-After up to whole seconds
    assert _allowed(throttle, user, 1) == [True]


def test_each_user_is_counted_apart(user, other_user):
    throttle = _throttle_class("2/min", Clock())
    _allowed(throttle, user, 2)

    assert _allowed(throttle, other_user, 2) == [True, True]
    assert _allowed(throttle, user, 1) == [False]


def test_every_cache_backend_sees_the_same_counts():
    # Each web process has its own backend instance; Redis holds one count.
    names = (f"test-{uuid.uuid4().hex}:1", f"test-{uuid.uuid4().hex}:0")
    first, second = (caches.create_connection(DEFAULT_CACHE_ALIAS) for _ in range(2))

    counted = [
        _check_and_count(store, names, limit=3, weight=1.0, ttl=60)[0]
        for store in (first, second, first, second)
    ]

    assert counted == [True, True, True, False]


def test_process_memory_counts_the_same_way():
    store = LocMemCache(f"test-{uuid.uuid4().hex}", {})
    names = ("now", "before")
    store.set("before", 4)

    # 4 x 0.5 = 2 from the previous window: one more fits under 3.
    counted = [_check_and_count(store, names, limit=3, weight=0.5, ttl=60) for _ in range(2)]

    assert counted == [(True, 1, 4), (False, 1, 4)]


def test_with_redis_away_the_counts_go_on_in_process_memory(tmp_path):
    from bulkyard.core.cache import ResilientRedisCache
    from tests.support.private import PrivateRedis

    server = PrivateRedis(tmp_path)
    server.start()
    store = ResilientRedisCache(server.url, {"OPTIONS": {"socket_connect_timeout": 1}})
    names = (f"k-{uuid.uuid4().hex}:1", f"k-{uuid.uuid4().hex}:0")
    assert _check_and_count(store, names, limit=2, weight=1.0, ttl=120)[0]
    server.kill()

    answers = [_check_and_count(store, names, limit=2, weight=1.0, ttl=120) for _ in range(3)]

    # Memory starts counting from nothing: what Redis held went with it.
    assert [allowed for allowed, _, _ in answers] == [True, True, False]
    assert not store.reachable()


def test_anonymous_requests_count_against_the_connections_address_whatever_they_claim():
    throttle_class = _throttle_class("2/min", Clock())

    def anonymous(claimed: str) -> Request:
        request = Request(
            APIRequestFactory().get(
                "/api/v1/jobs/", REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR=claimed
            )
        )
        request.user = AnonymousUser()
        return request

    allowed = [throttle_class().allow_request(anonymous(f"198.51.100.{n}"), VIEW) for n in range(3)]

    assert allowed == [True, True, False]
