"""Controls: what users and operators do to a job once it exists.

- Cancel: no new chunk starts; running chunks stop between items and commit
  what they did; the job ends ``cancelled`` through its finish step.
- Retry the failed items of a finished job: a new job whose input is those
  items, keeping their numbers.
- Re-run stalled chunks: hand a job's stuck chunks to workers now, without
  waiting for the sweeper (``maintenance``).
- Change a job's priority (operators): its next chunks are claimed in the
  new order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile

from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.jobs import dispatch, events, registry
from bulkyard.jobs.inputs import READER_ERROR_CODES
from bulkyard.jobs.kinds import CONTENT_OMITTED, CodedError
from bulkyard.jobs.models import (
    JOB_FINISHED_STATUSES,
    Chunk,
    ChunkStatus,
    InputFormat,
    ItemOutcome,
    ItemResult,
    Job,
    JobPriority,
    JobStatus,
)
from bulkyard.jobs.services.chunks import chunk_recover
from bulkyard.jobs.services.commits import cancel_pending_chunks
from bulkyard.jobs.services.creation import AttachmentInput, JobInput, job_create


class JobConflict(CodedError):
    """The job is not in a state that allows the requested change."""


def job_cancel(*, job: Job) -> Job:
    """Stop a job: no new chunk starts, running chunks stop between items.

    A queued job is cancelled at once; a running one goes to ``cancelling``
    and ends ``cancelled`` when its running chunks have committed what they
    did. Cancelling a cancelled job changes nothing; a finished one is a
    ``JobConflict``.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            return locked
        if locked.is_finished:
            raise JobConflict(
                "job_finished", f"the job already finished ({locked.status}); nothing to cancel"
            )
        if locked.status == JobStatus.QUEUED:
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.CANCELLED, cancel_requested_at=now, finished_at=now
            )
            kind = locked.kind
            transaction.on_commit(
                lambda: metrics.JOBS_FINISHED.labels(kind, JobStatus.CANCELLED).inc()
            )
        else:
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.CANCELLING, cancel_requested_at=now
            )
            cancel_pending_chunks(str(job.pk))
        job_id, owner_id = str(job.pk), locked.owner_id
        transaction.on_commit(
            lambda: events.job_changed(job_id=job_id, owner_id=owner_id, force=True)
        )
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


def job_retry_failed(
    *, job: Job, owner: User, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Create a new job of the failed items of a finished job.

    The new job keeps the original item numbers (line numbers), kind and params.
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
    not_retried = READER_ERROR_CODES | registry.get(job.kind).not_retried_codes
    failed = (
        ItemResult.objects.filter(job=job, outcome=ItemOutcome.FAILED, input__isnull=False)
        .exclude(code__in=not_retried)
        # Files from a ZIP that failed before becoming data keep no content.
        .exclude(input__has_key=CONTENT_OMITTED)
        .order_by("item_number")
        .values_list("item_number", "input")
    )
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
            raise JobConflict(
                "nothing_to_retry",
                "the job has no failed items that can be retried (files from a ZIP that could "
                "not be read are not kept: upload them again)",
            )
        spool.seek(0)
        with contextlib.ExitStack() as opened:
            # The new job gets the same attachments (an email's files).
            attachments = [
                AttachmentInput(
                    file=File(opened.enter_context(a.file.open("rb")), name=a.name),
                    name=a.name,
                    content_type=a.content_type,
                    sha256=a.sha256,
                    size=a.size,
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
