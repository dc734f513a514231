"""Celery entry points of the engine: thin wrappers over the services.

The broker carries wake-ups only (``dispatch``, which sends these tasks by
name): each task claims its work from the database, so a task run twice
claims twice, never the same work.
A wake-up that finds a service away (the database, mostly) is not dropped:
it comes back after a short delay, as a new message, while the one that
brought it is acknowledged.
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from bulkyard.core.outages import is_outage, retry_delay
from bulkyard.jobs import dispatch
from bulkyard.jobs.services import callbacks, chunks, maintenance, retention, steps


def _outages_retried(task: Task, work: Callable[[], str]) -> str:
    try:
        return work()
    except Exception as exc:
        if is_outage(exc):
            raise task.retry(exc=exc, countdown=retry_delay(task.request.retries)) from exc
        raise


@shared_task(name=dispatch.RUN_NEXT_CHUNK, bind=True, max_retries=None)
def run_next_chunk(self: Task, queue: str) -> str:
    return _outages_retried(self, lambda: chunks.chunk_run_next(queue=queue))


@shared_task(name=dispatch.RUN_NEXT_JOB_STEP, bind=True, max_retries=None)
def run_next_job_step(self: Task) -> str:
    return _outages_retried(self, steps.job_step_run_next)


@shared_task(name=dispatch.DELIVER_NEXT_CALLBACK, bind=True, max_retries=None)
def deliver_next_callback(self: Task) -> str:
    return _outages_retried(self, callbacks.callback_deliver_next)


@shared_task(name="bulkyard.jobs.tasks.sweep_stalled_work")
def sweep_stalled_work() -> dict[str, Any]:
    try:
        return asdict(maintenance.sweep_stalled_work())
    except Exception as exc:
        if not is_outage(exc):
            raise
        return maintenance.sweep_skipped(exc)


@shared_task(name="bulkyard.jobs.tasks.purge_expired_jobs")
def purge_expired_jobs() -> dict[str, Any]:
    try:
        report = retention.jobs_purge(time_budget=settings.BULKYARD_RETENTION_RUN_SECONDS)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return retention.purge_skipped(exc)
    return asdict(report)
