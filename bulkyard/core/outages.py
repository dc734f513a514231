"""Telling a service outage from an error of the work itself.

A chunk that fails because PostgreSQL, Redis or the broker went away did
nothing wrong: it must neither use up one of its attempts (three outages in a
row would fail every item of it) nor be dropped. Its worker waits for the
service instead, and hands the chunk back the moment the service returns.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions
import psycopg
import redis
from django.db import InterfaceError, close_old_connections
from kombu.exceptions import OperationalError as BrokerUnreachable

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a client is told while a service is away, and when to try again.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = (
    "A service Bulkyard depends on is unreachable for the moment; try again shortly."
)

# SQLSTATE classes and codes of a server that is going or gone: connection
# exceptions (08), and a server shutting down, crashed or starting (57P0x).
_GONE_STATES = ("08", "57P01", "57P02", "57P03")
# The object store (decision 0027) unreachable, or its connection timed out or
# dropped: botocore's own errors, raised once its retries are spent.
_UNREACHABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerUnreachable,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
)


def is_outage(error: BaseException) -> bool:
    """True if ``error``, or an error it was raised from, says that a service
    (the database, Redis, the broker, the object store) could not be reached, rather than that
    the work itself is wrong: a deadlock or a refused value is not an outage."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InterfaceError):
            return True  # Django's "connection already closed"
        if isinstance(current, psycopg.OperationalError):
            state = current.sqlstate
            # No SQLSTATE: the client could not reach the server at all.
            if state is None or state.startswith(_GONE_STATES):
                return True
        if isinstance(current, _UNREACHABLE):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_delay(attempt: int, *, cap: float = 10.0) -> float:
    """Seconds before trying a service again: 1, 2, 4… up to ``cap``, jittered
    so that the workers of a fleet do not all come back at once."""
    return min(cap, 2.0 ** max(attempt, 0)) * random.uniform(0.5, 1.0)


def when_reachable(action: Callable[[], T], *, within: float, what: str) -> T:
    """``action()``, tried again while it fails with an outage, for at most
    ``within`` seconds; any other error, or the outage outlasting that, raises."""
    deadline = time.monotonic() + within
    attempt = 0
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() >= deadline:
                raise
            delay = min(retry_delay(attempt), max(deadline - time.monotonic(), 0.0))
            logger.warning("%s: a service is unreachable (%s); trying again", what, exc)
            attempt += 1
            time.sleep(delay)
            # A connection the outage broke stays broken until closed: Django
            # reconnects only at the start of a request or task.
            close_old_connections()
