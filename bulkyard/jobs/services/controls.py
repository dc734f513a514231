"""Controls: what users and operators do to a job once it exists.

- Cancel: no new chunk starts; running chunks stop between items and commit
  what they did; the job ends ``cancelled`` through its finish step.
- Pause and resume: while a job is ``paused`` no new chunk of it starts (nor
  its planning); chunks already running finish and commit. Resuming wakes
  workers at once. A job paused for longer than ``BULKYARD_PAUSE_MAX_HOURS``
  is cancelled by the sweeper (decision 0016).
- Retry the failed items of a finished job: a new job whose input is those
  items, keeping their numbers.
- Re-run stalled chunks: hand a job's stuck chunks to workers now, without
  waiting for the sweeper (``maintenance``).
- Change a job's priority (operators): its next chunks are claimed in the
  new order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from datetime import datetime

from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.jobs import dispatch, events, registry, selectors
from bulkyard.jobs.kinds import CodedError
from bulkyard.jobs.models import (
    JOB_FINISHED_STATUSES,
    Chunk,
    ChunkStatus,
    InputFormat,
    Job,
    JobPriority,
    JobStatus,
)
from bulkyard.jobs.services.callbacks import callback_job_ended, callback_of
from bulkyard.jobs.services.chunks import chunk_recover
from bulkyard.jobs.services.commits import cancel_pending_chunks
from bulkyard.jobs.services.creation import AttachmentInput, JobInput, job_create
from bulkyard.jobs.services.quotas import quota_check_resume
from bulkyard.jobs.services.retention import finished_fields, retry_retention_days


class JobConflict(CodedError):
    """The job is not in a state that allows the requested change."""


def job_cancel(*, job: Job) -> Job:
    """Stop a job: no new chunk starts, running chunks stop between items.

    A queued job (or one paused before it was planned) is cancelled at once;
    a running or paused one goes to ``cancelling`` and ends ``cancelled`` when
    its running chunks have committed what they did. Cancelling a cancelled
    job changes nothing; a finished one is a ``JobConflict``.
    """
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            return locked
        if locked.is_finished:
            raise JobConflict(
                "job_finished", f"the job already finished ({locked.status}); nothing to cancel"
            )
        _cancel_locked(locked)
    return Job.objects.get(pk=job.pk)


def job_set_priority(*, job: Job, priority: JobPriority) -> Job:
    """Give an unfinished job another priority: an operator's decision, so
    ``high`` needs no permission of the owner. Chunks already running go on;
    the next claims see the new order (claims read it from the job row)."""
    changed = Job.objects.filter(pk=job.pk).exclude(status__in=JOB_FINISHED_STATUSES)
    if not changed.update(priority=priority):
        raise JobConflict("job_finished", "the job already finished; its priority is moot")
    job.refresh_from_db(fields=["priority"])
    return job


def job_cancel_paused_too_long(*, job_id: str, paused_before: datetime, hours: float) -> bool:
    """Cancel a job still paused since before ``paused_before`` (the sweeper's
    check of ``BULKYARD_PAUSE_MAX_HOURS``), saying why in its error; False if
    it was resumed or cancelled meanwhile."""
    with transaction.atomic():
        locked = (
            Job.objects.select_for_update()
            .filter(pk=job_id, status=JobStatus.PAUSED, paused_at__lt=paused_before)
            .first()
        )
        if locked is None:
            return False
        _cancel_locked(
            locked,
            error_code="paused_too_long",
            error_message=(
                f"the job stayed paused for more than {hours:g} hours "
                "(BULKYARD_PAUSE_MAX_HOURS) and was cancelled; what its chunks had "
                "committed is kept"
            ),
        )
    return True


def _cancel_locked(locked: Job, *, error_code: str = "", error_message: str = "") -> None:
    """Cancel a job whose row the caller's transaction holds."""
    now = timezone.now()
    changes: dict[str, object] = {
        "cancel_requested_at": now,
        "error_code": error_code,
        "error_message": error_message,
        **locked.pause_ended(now),
    }
    if locked.chunks_total is None:
        # Never planned (queued, or paused while queued): nothing runs.
        Job.objects.filter(pk=locked.pk).update(
            status=JobStatus.CANCELLED,
            **finished_fields(retention_days=locked.retention_days, now=now),
            **changes,
        )
        # No finish step will run for it: its end is here.
        callback_job_ended(job_id=str(locked.pk))
        kind = locked.kind
        transaction.on_commit(lambda: metrics.JOBS_FINISHED.labels(kind, JobStatus.CANCELLED).inc())
    else:
        Job.objects.filter(pk=locked.pk).update(status=JobStatus.CANCELLING, **changes)
        cancel_pending_chunks(str(locked.pk))
    _announce_on_commit(locked)


def job_pause(*, job: Job) -> Job:
    """Hold a job: no new chunk of it starts, nor its planning if it is
    queued; chunks already running finish and commit what they did.

    The job is ``paused`` at once. Pausing a paused job changes nothing; one
    that finished or is being cancelled is a ``JobConflict``.
    """
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status == JobStatus.PAUSED:
            return locked
        if locked.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise _not_now(locked, "pause")
        Job.objects.filter(pk=job.pk).update(status=JobStatus.PAUSED, paused_at=timezone.now())
        _announce_on_commit(locked)
    return Job.objects.get(pk=job.pk)


def job_resume(*, job: Job) -> Job:
    """Let a paused job go on where it stopped, and wake workers for it now
    rather than at the next sweep.

    A job paused before it was planned is queued again; one that was running
    runs again. Resuming a queued or running job changes nothing; one that
    finished or is being cancelled is a ``JobConflict``; one its owner has no
    room for (``queued_jobs`` or ``running_jobs``) is ``QuotaExceeded``.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            return locked
        if locked.status != JobStatus.PAUSED:
            raise _not_now(locked, "resume")
        planned = locked.chunks_total is not None
        quota_check_resume(owner_id=locked.owner_id, planned=planned)
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING if planned else JobStatus.QUEUED, **locked.pause_ended(now)
        )
        if planned:
            # Chunks in a backoff are left to their own wake-up, or the sweeper's.
            due = (
                Chunk.objects.filter(job=job, status=ChunkStatus.PENDING, available_at__lte=now)
                .values("queue")
                .annotate(count=Count("pk"))
                .order_by()
                .values_list("queue", "count")
            )
            for queue, count in due:
                transaction.on_commit(
                    functools.partial(dispatch.wake_chunk_workers, queue, count), robust=True
                )
        else:
            transaction.on_commit(dispatch.wake_step_worker, robust=True)
        _announce_on_commit(locked)
    return Job.objects.get(pk=job.pk)


def _not_now(job: Job, action: str) -> JobConflict:
    if job.is_finished:
        return JobConflict(
            "job_finished", f"the job already finished ({job.status}); nothing to {action}"
        )
    return JobConflict("job_cancelling", f"the job is being cancelled; it cannot {action}")


def _announce_on_commit(job: Job) -> None:
    job_id, owner_id = str(job.pk), job.owner_id
    transaction.on_commit(lambda: events.job_changed(job_id=job_id, owner_id=owner_id, force=True))


def _nothing_to_retry(job: Job) -> str:
    """Why a retry of ``job`` would be empty, and what to do instead."""
    if not job.failed_items:
        reason = "no item of the job failed"
    else:
        reason = (
            "none of its failures is one a retry could help: the same input would fail the "
            "same way (the job's failures by code say which)"
        )
        if job.input_format == InputFormat.ZIP:
            reason += "; files of a ZIP that could not be read are not kept: upload them again"
    if job.status == JobStatus.CANCELLED:
        reason += "; the items a cancel left are in its results with ?outcome=unprocessed"
    return f"nothing to retry: {reason}"


def job_retry_failed(
    *, job: Job, owner: User, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Create a new job of the failed items of a finished job.

    The new job keeps the original item numbers (line numbers), kind, params,
    attachments and completion callback.
    Items the reader could not turn into data (bad encoding, bad JSON, a wrong
    number of CSV fields) are not retried: the same bytes would fail the same way;
    nor are failures the kind lists in ``not_retried_codes``.
    """
    if not job.is_finished:
        raise JobConflict("job_not_finished", "only a finished job can be retried")
    if not job.input_file:
        raise JobConflict(
            "nothing_to_retry", "this kind finds its own items: create the job again instead"
        )
    try:
        failed = selectors.job_retryable_failures(job=job).values_list("item_number", "input")
    except registry.UnknownKind:
        # The kind was uninstalled since: nothing could run the retry.
        raise JobConflict(
            "unknown_kind", f"the job's kind {job.kind!r} is no longer installed here"
        ) from None
    digest = hashlib.sha256()
    size = count = 0
    with tempfile.TemporaryFile() as spool:
        for number, data in failed.iterator(chunk_size=2000):
            line = json.dumps({"n": number, "item": data}, ensure_ascii=False).encode() + b"\n"
            spool.write(line)
            digest.update(line)
            size += len(line)
            count += 1
        if not count:
            raise JobConflict("nothing_to_retry", _nothing_to_retry(job))
        spool.seek(0)
        # The new job gets the same attachments (an email's files), copied
        # inside the storage: on S3 no byte of them passes through here.
        attachments = [
            AttachmentInput(
                file=a.file,
                name=a.name,
                content_type=a.content_type,
                sha256=a.sha256,
                size=a.size,
                stored_name=a.file.name,
            )
            for a in job.attachments.order_by("pk")
        ]
        return job_create(
            owner=owner,
            kind=job.kind,
            params=job.params,
            job_input=JobInput(
                file=File(spool),
                format=InputFormat.RETRY,
                name=f"retry-of-{job.pk}.jsonl",
                sha256=digest.hexdigest(),
                size=size,
            ),
            chunk_size=job.chunk_size,
            idempotency_key=idempotency_key,
            retry_of=job,
            attachments=attachments,
            # Checked again: the owner may have lost the permission for high.
            priority=job.priority,
            # The retry reports to the same receiver.
            callback=callback_of(job=job),
            item_count=count,
            retention_days=retry_retention_days(job.retention_days),
        )


def job_rerun_stalled_chunks(*, job: Job) -> int:
    """Hand a job's stuck chunks to workers now, without waiting for the
    sweeper: running chunks whose lease expired, and pending chunks, backoff
    or not. Safe at any time: a chunk that is really running keeps its lease."""
    recovered = [
        chunk.pk
        for chunk in Chunk.objects.filter(
            job=job, status=ChunkStatus.RUNNING, lease_expires_at__lt=timezone.now()
        ).select_related("job")
        if chunk_recover(chunk=chunk) != "skipped"  # each woke a worker
    ]
    woken = 0
    if job.status == JobStatus.RUNNING:
        pending = Chunk.objects.filter(job=job, status=ChunkStatus.PENDING)
        woken = pending.exclude(pk__in=recovered).update(available_at=timezone.now())
        dispatch.wake_chunk_workers(registry.get(job.kind).queue, woken)
    return len(recovered) + woken
