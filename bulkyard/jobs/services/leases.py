"""Leases: how a worker holds a chunk or a job step while it runs it.

A claim hands out a token and an expiry; a background thread renews the
expiry every third of its length, so a slow item, or a kind that processes a
whole batch at once, never loses it while the worker lives. When the worker
dies, renewals stop and, once the lease has run out, the work may be claimed
again. Every write of the work's outcome is guarded by the token, so a run
that lost its lease changes nothing.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db import connection as db_connection
from django.utils import timezone

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker took this work over; this run's results must be dropped."""


def lease_expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.BULKYARD_CHUNK_LEASE_SECONDS)


def new_token() -> uuid.UUID:
    return uuid.uuid4()


class Heartbeat:
    """Renews a lease in a background thread while the ``with`` block runs.

    ``renew()`` writes the new expiry and returns whether the lease was still
    held; once it was not, ``lost`` is set (read it between items). Failed
    renewals (the database away for a moment) are logged and tried again at
    the next beat: the lease is long enough to outlive a short outage.
    """

    def __init__(self, *, name: str, renew: Callable[[], bool]) -> None:
        self.name = name
        self.lost = False
        self._renew_once = renew
        self._stop = threading.Event()
        # The thread logs with the fields of the work it renews (job_id, ...).
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"lease-{name}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = settings.BULKYARD_CHUNK_LEASE_SECONDS / 3
        try:
            while not self._stop.wait(interval):
                try:
                    held = self._renew_once()
                except Exception:
                    logger.warning("%s: lease renewal failed", self.name, exc_info=True)
                    # Reconnect at the next beat should the database have
                    # gone away and come back.
                    close_old_connections()
                    continue
                if not held:
                    self.lost = True
                    return
        finally:
            db_connection.close()  # this thread's own connection
