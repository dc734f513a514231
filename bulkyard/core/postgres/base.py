"""Django's PostgreSQL backend, plus a breaker on new connections.

While PostgreSQL is down, every new connection waits out its connect timeout
(from the pool: the pool's timeout) before it fails. Django runs the web
process's sync views one at a time in a single thread, so requests queued
behind each other each paid that wait: a request answered after 30 s was
seen. Once a connection fails, new ones in this process fail at once for
``OPEN_SECONDS``; then the next one tries the server again. A request during
an outage thus gets its 503 in milliseconds (``bulkyard.core.exceptions``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from django.db.backends.postgresql import base

# How long new connections fail without trying, after one failed.
OPEN_SECONDS = 2.0


class _Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def check(self) -> None:
        with self._lock:
            remaining = self._open_until - time.monotonic()
        if remaining > 0:
            raise psycopg.OperationalError(
                f"the database could not be reached a moment ago; trying again in {remaining:.1f} s"
            )

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + OPEN_SECONDS


breaker = _Breaker()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker.check()
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            breaker.trip()
            raise
