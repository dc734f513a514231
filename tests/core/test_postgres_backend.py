"""The PostgreSQL backend's breaker: while the server is away, new connections
fail at once instead of each waiting for a timeout."""

import time

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from bulkyard.core.outages import is_outage
from bulkyard.core.postgres import base

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable(settings):
    """A connection to a PostgreSQL that is not there (nothing listens on port 1)."""
    handler = ConnectionHandler(
        {
            "default": {
                **settings.DATABASES["default"],
                "ENGINE": "bulkyard.core.postgres",
                "HOST": "127.0.0.1",
                "PORT": 1,
            }
        }
    )
    base.breaker._open_until = 0.0
    yield handler["default"]
    handler["default"].close()
    base.breaker._open_until = 0.0


def test_the_test_run_itself_uses_the_breaking_backend(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "bulkyard.core.postgres"


def test_after_a_failed_connection_the_next_ones_fail_without_trying(unreachable):
    with pytest.raises(OperationalError) as first:
        unreachable.ensure_connection()

    started = time.monotonic()
    with pytest.raises(OperationalError) as second:
        unreachable.ensure_connection()

    assert "connection refused" in str(first.value).lower()
    assert "could not be reached a moment ago" in str(second.value)
    assert time.monotonic() - started < 0.1
    assert is_outage(second.value)


def test_the_server_is_tried_again_once_the_breaker_closes(unreachable, monkeypatch):
    monkeypatch.setattr(base, "OPEN_SECONDS", 0.1)
    with pytest.raises(OperationalError):
        unreachable.ensure_connection()
    time.sleep(0.2)

    with pytest.raises(OperationalError) as again:
        unreachable.ensure_connection()

    assert "connection refused" in str(again.value).lower()
