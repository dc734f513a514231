import os
from typing import Any

import psycopg
from celery import Celery, signals, states
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.base.base import BaseDatabaseWrapper

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("bulkyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _cpu_priority_lowered(**_: object) -> None:
    """Before the pool starts, so every pool process inherits it."""
    if settings.BULKYARD_WORKER_NICE:
        os.nice(settings.BULKYARD_WORKER_NICE)


# Database connections across tasks. Celery's Django fixup closes every
# connection before and after each task (celery#9824: Django can take a
# connection that a signal interrupted mid-query, as a time limit does, for
# usable), so DATABASE_CONN_MAX_AGE did nothing in a worker and each chunk
# paid for a new PostgreSQL backend. With CELERY_DB_REUSE_MAX (settings/tasks.py)
# the fixup only renews them every so many tasks. These handlers give tasks
# Django's request lifecycle instead (CONN_MAX_AGE and CONN_HEALTH_CHECKS at
# each start and end) and close every connection after a task that did not
# succeed, met a database error or left one mid-transaction.
@signals.task_prerun.connect
def _connections_checked_before_task(*, task: Any = None, **_: object) -> None:
    if not _eager(task):
        close_old_connections()


@signals.task_postrun.connect
def _connections_kept_or_closed_after_task(
    *, task: Any = None, state: str | None = None, **_: object
) -> None:
    if _eager(task):
        return
    for connection in connections.all(initialized_only=True):
        if state != states.SUCCESS or connection.errors_occurred or _busy(connection):
            connection.close()
        else:
            connection.close_if_unusable_or_obsolete()


def _eager(task: Any) -> bool:
    """A task run in the caller's process (``apply``, eager mode) uses the
    caller's connections, maybe inside its transaction: not the worker's to
    manage (Celery's fixup leaves them alone too)."""
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def _busy(connection: BaseDatabaseWrapper) -> bool:
    """Whether the connection is inside a transaction or a statement: after a
    task, only an interrupted one leaves it so."""
    raw = connection.connection
    if raw is None:
        return False
    if isinstance(raw, psycopg.Connection):
        return raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return bool(getattr(raw, "in_transaction", False))  # sqlite3
