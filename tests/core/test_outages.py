"""Telling outages from errors of the work, with the errors real clients raise."""

import time

import botocore.exceptions
import psycopg
import pytest
import redis
from django.db import DataError, connection

from bulkyard.core import outages
from bulkyard.core.storage.s3 import BulkyardS3Storage


def _refused_postgres() -> BaseException:
    try:
        psycopg.connect("postgres://postgres@127.0.0.1:1/none", connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("port 1 answered")


def test_a_refused_database_connection_is_an_outage():
    assert outages.is_outage(_refused_postgres())


def test_a_refused_redis_connection_is_an_outage():
    with pytest.raises(redis.ConnectionError) as caught:
        redis.Redis(port=1, socket_connect_timeout=2).ping()

    assert outages.is_outage(caught.value)


def test_an_unreachable_object_store_is_an_outage():
    storage = BulkyardS3Storage(
        bucket_name="any",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        access_key="x",
        secret_key="x",
    )
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as caught:
        storage.open("jobs/1/input.csv", "rb")

    assert outages.is_outage(caught.value)


def test_a_missing_object_is_not_an_outage(s3_server):
    storage = BulkyardS3Storage(**s3_server.options())
    with pytest.raises(FileNotFoundError) as caught:
        storage.open("jobs/1/none.csv", "rb")

    assert not outages.is_outage(caught.value)


def test_an_outage_wrapped_in_another_error_is_still_one():
    wrapped = RuntimeError("the kind's own wrapper")
    wrapped.__cause__ = _refused_postgres()

    assert outages.is_outage(wrapped)


@pytest.mark.django_db
def test_a_value_the_database_refuses_is_not_an_outage():
    with pytest.raises(DataError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT 'x'::int")

    assert not outages.is_outage(caught.value)


def test_an_error_of_the_work_is_not_an_outage():
    assert not outages.is_outage(ValueError("bad row"))


@pytest.mark.django_db  # between tries it closes the dead connections
def test_an_action_is_tried_again_while_the_service_is_away():
    calls = []

    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise _refused_postgres()
        return "done"

    assert outages.when_reachable(flaky, within=30, what="test") == "done"
    assert len(calls) == 3


@pytest.mark.django_db  # between tries it closes the dead connections
def test_an_outage_longer_than_the_wait_raises():
    def away():
        raise _refused_postgres()

    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        outages.when_reachable(away, within=1, what="test")
    assert time.monotonic() - started < 5


def test_other_errors_are_not_tried_again():
    calls = []

    def wrong():
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        outages.when_reachable(wrong, within=30, what="test")
    assert calls == [1]


@pytest.mark.parametrize("attempt", [0, 1, 5, 50])
def test_retry_delays_grow_to_a_cap(attempt):
    assert 0 < outages.retry_delay(attempt) <= 10
