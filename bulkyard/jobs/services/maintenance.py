"""Maintenance: what no request asks for, done on a schedule.

The sweeper recovers what crashes, lost messages and outages left behind;
Celery beat runs it every ``BULKYARD_SWEEP_INTERVAL_SECONDS``:

- A running chunk whose lease expired lost its worker: it is run again, or
  its items fail after ``BULKYARD_CHUNK_MAX_ATTEMPTS`` tries, or (if its job
  is being cancelled) it is closed as cancelled (``chunks.chunk_recover``).
- A pending chunk of a cancelling job is closed.
- A job paused for longer than ``BULKYARD_PAUSE_MAX_HOURS`` is cancelled
  (``controls.job_cancel_paused_too_long``): a forgotten pause must not keep
  a job, its input and its chunks forever. A paused job is not stuck
  otherwise: its chunks are not claimable, so no wake-up is sent for them.
- Wake-ups are topped up: for each queue, the work waiting in the database
  (claimable chunks; jobs to plan or finish, completion callbacks due) is
  compared with the wake-ups waiting in the broker, and the missing ones are
  sent. A broker that lost its messages (Redis restarted without
  persistence), a job accepted while the broker was down, wake-ups a worker
  dropped while PostgreSQL was away: each costs one sweep interval, not a
  stuck job (decision 0009). A callback's retry is sent this way too, once
  its time has come (decision 0017).

Purging expired jobs, also run by beat, is ``retention``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.core.outages import is_outage
from bulkyard.jobs import dispatch, registry
from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobStatus
from bulkyard.jobs.services.callbacks import callbacks_due_count
from bulkyard.jobs.services.chunks import chunk_recover
from bulkyard.jobs.services.claims import claimable_chunks, steps_due_count
from bulkyard.jobs.services.commits import cancel_pending_chunks
from bulkyard.jobs.services.controls import job_cancel_paused_too_long

logger = logging.getLogger(__name__)

# At most this much work is counted, and this many wake-ups sent, per queue
# and sweep: enough to keep every worker of a large fleet busy until the next.
WAKEUP_BATCH = 10_000


@dataclass(slots=True)
class SweepReport:
    requeued_chunks: int = 0
    failed_chunks: int = 0
    cancelled_chunks: int = 0
    # Jobs cancelled for having been paused longer than BULKYARD_PAUSE_MAX_HOURS.
    cancelled_paused_jobs: int = 0
    # Wake-ups sent per queue because fewer were waiting than work to claim.
    wakeups: dict[str, int] = field(default_factory=dict)


def sweep_stalled_work(*, limit: int = 500) -> SweepReport:
    report = SweepReport()
    _recover_expired_chunks(report, limit=limit)
    _close_pending_chunks_of_cancelling_jobs(report, limit=limit)
    _cancel_jobs_paused_too_long(report, limit=limit)
    _top_up_wakeups(report)
    _report_counted(report)
    return report


def _report_counted(report: SweepReport) -> None:
    metrics.SWEEPS.labels("completed").inc()
    for action, count in (
        ("requeued", report.requeued_chunks),
        ("failed", report.failed_chunks),
        ("cancelled", report.cancelled_chunks),
        ("wakeups", sum(report.wakeups.values())),
    ):
        if count:
            metrics.SWEEPER_ACTIONS.labels(action).inc(count)


def sweep_skipped(error: Exception) -> dict[str, str]:
    """A sweep met an outage: one line, not a traceback a pass; beat sends the
    next sweep anyway."""
    metrics.SWEEPS.labels("skipped").inc()
    logger.warning("sweeper: a service is unreachable (%s); sweeping next time", error)
    return {"skipped": str(error)}


def _recover_expired_chunks(report: SweepReport, *, limit: int) -> None:
    expired = (
        Chunk.objects.filter(status=ChunkStatus.RUNNING, lease_expires_at__lt=timezone.now())
        .select_related("job")
        .order_by("lease_expires_at")[:limit]
    )
    for chunk in expired:
        try:
            outcome = chunk_recover(chunk=chunk)
        except Exception:
            # One broken chunk must not stop the sweep of all the others.
            logger.exception("sweeper: could not recover chunk %s", chunk.pk)
            continue
        if outcome == "requeued":
            report.requeued_chunks += 1
        elif outcome == "failed":
            report.failed_chunks += 1
        elif outcome == "cancelled":
            report.cancelled_chunks += 1


def _close_pending_chunks_of_cancelling_jobs(report: SweepReport, *, limit: int) -> None:
    """A chunk handed back to pending just as its job was cancelled would
    never start (its job is not running) nor be closed: close it here."""
    for job_id in (
        Job.objects.filter(status=JobStatus.CANCELLING, chunks__status=ChunkStatus.PENDING)
        .values_list("pk", flat=True)
        .distinct()[:limit]
    ):
        with transaction.atomic():
            Job.objects.select_for_update().filter(pk=job_id).first()
            report.cancelled_chunks += cancel_pending_chunks(str(job_id))


def _cancel_jobs_paused_too_long(report: SweepReport, *, limit: int) -> None:
    hours = float(settings.BULKYARD_PAUSE_MAX_HOURS)
    if not hours:
        return
    paused_before = timezone.now() - timedelta(hours=hours)
    for job_id in Job.objects.filter(
        status=JobStatus.PAUSED, paused_at__lt=paused_before
    ).values_list("pk", flat=True)[:limit]:
        try:
            cancelled = job_cancel_paused_too_long(
                job_id=str(job_id), paused_before=paused_before, hours=hours
            )
        except Exception as exc:
            if is_outage(exc):
                raise  # the sweep task logs one line and waits for the next
            # One job that cannot be cancelled must not stop the sweep.
            logger.exception("sweeper: could not cancel paused job %s", job_id)
            continue
        if cancelled:
            logger.info("sweeper: job %s was paused for over %g hours; cancelled", job_id, hours)
            report.cancelled_paused_jobs += 1


def _top_up_wakeups(report: SweepReport) -> None:
    now = timezone.now()
    control = str(settings.BULKYARD_QUEUE_CONTROL)
    due = {
        queue: claimable_chunks(queue, now=now)[:WAKEUP_BATCH].count()
        for queue in sorted({kind.queue for kind in registry.all_kinds()})
    }
    steps = steps_due_count(now=now, cap=WAKEUP_BATCH)
    callbacks = callbacks_due_count(now=now, cap=WAKEUP_BATCH)
    due[control] = due.get(control, 0) + steps + callbacks
    wanted = {queue: count for queue, count in due.items() if count}
    if not wanted:
        return
    try:
        waiting = dispatch.waiting_wakeups(list(wanted))
    except Exception:
        logger.warning("sweeper: the broker is unreachable; wake-ups wait", exc_info=True)
        return
    for queue, count in wanted.items():
        missing = min(count - waiting.get(queue, 0), WAKEUP_BATCH)
        if missing <= 0:
            continue
        if queue == control:
            # Job steps and callbacks share the queue, and the broker counts
            # their wake-ups together: each kind gets up to what is missing,
            # so that neither waits on the other's (an extra one finds nothing).
            if steps:
                dispatch.wake_step_worker(min(missing, steps))
            if callbacks:
                dispatch.wake_callback_worker(min(missing, callbacks))
            missing = min(missing, steps) + min(missing, callbacks)
        else:
            dispatch.wake_chunk_workers(queue, missing)
        report.wakeups[queue] = missing
        logger.info("sweeper: %s work waits on %s with no wake-up; sent %s", count, queue, missing)
