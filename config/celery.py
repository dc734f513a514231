import logging.config
import os
from typing import Any

import psycopg
from celery import Celery, signals, states
from django.conf import settings
from django.core.files.storage import storages
from django.db import close_old_connections, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from bulkyard.core.logs import task_scope_begin, task_scope_end
from bulkyard.core.storage import storage_connections_reset

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("bulkyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _cpu_priority_lowered(**_: object) -> None:
    """Before the pool starts, so every pool process inherits it."""
    if settings.BULKYARD_WORKER_NICE:
        os.nice(settings.BULKYARD_WORKER_NICE)


@signals.worker_process_init.connect
def _storage_connections_own(**_: object) -> None:
    """Each pool process opens its own S3 clients: django-storages keeps them
    per thread, and a fork copies the parent's thread's (with their pooled
    sockets) into the child, should the parent have used the storage before
    forking (a replaced child is forked from it at any time)."""
    storage_connections_reset(storages["default"])


# Logging: Celery's own configuration gives way to the project's (structured,
# JSON or console: config/settings/logging.py) when this signal has a
# receiver; ``--loglevel`` still sets the level.
@signals.setup_logging.connect
def _logging_configured(*, loglevel: Any = None, **_: object) -> None:
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


# Every log line of a task carries its id and name, and what the engine binds
# while it runs (job_id, chunk_id, kind, owner) until Celery's own line
# about the task's end (bulkyard/core/logs.py).
@signals.task_prerun.connect
def _task_log_context(*, task_id: str | None = None, task: Any = None, **_: object) -> None:
    if not _eager(task):
        task_scope_begin(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _task_log_context_cleared(*, task: Any = None, **_: object) -> None:
    if not _eager(task):
        task_scope_end()


# Metrics (docs/observability.md): a worker host without a web server serves
# its processes' counters itself, from the main process, once the pool runs.
# prometheus_client is imported in the handlers, not here: it chooses between
# per-process and multiprocess counting when first imported, from
# PROMETHEUS_MULTIPROC_DIR, and this module is imported before the settings
# (which read .env, and whose test variant sets that folder).
@signals.worker_ready.connect
def _metrics_port_opened(**_: object) -> None:
    from bulkyard.core.metrics_endpoint import worker_metrics_serve

    if settings.BULKYARD_METRICS_PORT is not None:
        worker_metrics_serve(
            host=settings.BULKYARD_METRICS_HOST, port=settings.BULKYARD_METRICS_PORT
        )


@signals.worker_process_shutdown.connect
def _metrics_process_dead(*, pid: int | None = None, **_: object) -> None:
    """A pool process ends: its live gauges leave the sums (its counters stay)."""
    from prometheus_client import multiprocess

    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid or os.getpid(), settings.PROMETHEUS_MULTIPROC_DIR)


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
