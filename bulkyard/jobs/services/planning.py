"""Planning a queued job: cut its input (or the kind's own work) into chunks.

The input is cut by its format's reader (``inputs.reader_for``) into spans of
whole items; a gzip upload is first decompressed in storage, so that each
chunk can seek to its span. A kind that takes no input cuts its own work
(``JobKind.plan_work``). The chunks are written, and the job turns
``running``, in one guarded write; then a worker is woken per chunk
(``chunks``).

Planning runs under the job's step lease (``claims``): one worker plans a job
at a time, a worker lost mid-way leaves a lease that runs out, and the job is
planned again from the start (nothing of a planning is kept until its last,
guarded write). An input that cannot be planned fails the job with the
reason; a service outage hands the step back (``steps``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.core.outages import is_outage
from bulkyard.jobs import dispatch, events, registry
from bulkyard.jobs.inputs import gunzip, reader_for
from bulkyard.jobs.kinds import InputRejected, JobKind
from bulkyard.jobs.models import JOB_ACTIVE_STATUSES, Chunk, Job, JobStatus
from bulkyard.jobs.parts import stored_writer
from bulkyard.jobs.services.callbacks import callback_job_ended
from bulkyard.jobs.services.claims import ClaimedStep, job_step_claim, step_heartbeat
from bulkyard.jobs.services.missing import input_failure
from bulkyard.jobs.services.retention import finished_fields

logger = logging.getLogger(__name__)


def job_fail(*, job_id: str, code: str, message: str) -> None:
    """Fail a job that cannot run at all (its input is unusable)."""
    kind, owner_id, retention_days = Job.objects.values_list(
        "kind", "owner_id", "retention_days"
    ).get(pk=job_id)
    ended = Job.objects.filter(pk=job_id, status__in=JOB_ACTIVE_STATUSES).update(
        status=JobStatus.FAILED,
        error_code=code,
        error_message=message,
        **finished_fields(retention_days=retention_days, now=timezone.now()),
        lease_token=None,
        lease_expires_at=None,
        # A job paused while its planning ran ends as well: it is no longer paused.
        paused_at=None,
    )
    callback_job_ended(job_id=job_id)
    if ended:
        metrics.JOBS_FINISHED.labels(kind, JobStatus.FAILED).inc()
        logger.info("job %s: failed (%s)", job_id, code, extra={"error_code": code})
    events.job_changed(job_id=job_id, owner_id=owner_id, force=True)


def job_plan(*, job_id: str) -> str:
    """Plan this job if it is queued and nobody is planning it. Safe to run twice."""
    claimed = job_step_claim(job_id=job_id, step="plan")
    if claimed is None:
        return "skipped"
    return job_plan_claimed(claimed)


def job_plan_claimed(claimed: ClaimedStep) -> str:
    """Cut a job's input into chunks and wake a worker per chunk, under the
    step's lease: ``planned``, ``failed`` (the input is unusable) or
    ``skipped`` (cancelled, or the lease was lost, meanwhile)."""
    job_id = claimed.job_id
    job = Job.objects.get(pk=job_id)
    job_kind = registry.get(job.kind)
    params = job_kind.parse_params(job.params)
    header: list[str] | None = None
    try:
        with step_heartbeat(claimed):
            if job_kind.takes_input(params):
                header, total_items, chunks = _plan_input(job, job_kind, params)
            else:
                total_items, chunks = _plan_work(job, job_kind, params)
    except InputRejected as exc:
        job_fail(job_id=job_id, code=exc.code, message=exc.message)
        return "failed"
    except Exception as exc:
        if is_outage(exc):
            raise
        if isinstance(exc, OSError):
            code, message = input_failure(exc, storage=job.input_file.storage)
            job_fail(job_id=job_id, code=code, message=message)
            return "failed"
        # Planning reads only the input: an error here would recur on every
        # retry, so the job fails with the reason instead of being re-planned.
        logger.exception("job %s: planning failed", job_id)
        job_fail(job_id=job_id, code="planning_failed", message=f"{type(exc).__name__}: {exc}")
        return "failed"

    now = timezone.now()
    queue = job_kind.queue
    with transaction.atomic():
        started = Job.objects.filter(
            pk=job_id, status=JobStatus.QUEUED, lease_token=claimed.token
        ).update(
            status=JobStatus.RUNNING,
            started_at=now,
            total_items=total_items,
            chunks_total=len(chunks),
            input_header=header,
            lease_token=None,
            lease_expires_at=None,
            step_attempts=0,
        )
        if not started:
            # Cancelled, paused or taken over while we were reading. Our lease,
            # if we still hold it, goes: a paused job resumed is queued again
            # and must be planned at once, not when this lease runs out.
            Job.objects.filter(pk=job_id, lease_token=claimed.token).update(
                lease_token=None, lease_expires_at=None, step_attempts=0
            )
            return "skipped"
        for sequence, chunk in enumerate(chunks):
            chunk.job_id, chunk.sequence = job.pk, sequence
            chunk.queue, chunk.available_at = queue, now
        Chunk.objects.bulk_create(chunks, batch_size=1000)
        count = len(chunks)
        transaction.on_commit(lambda: dispatch.wake_chunk_workers(queue, count), robust=True)
    logger.info(
        "job %s: planned", job_id, extra={"total_items": total_items, "chunks": len(chunks)}
    )
    events.job_changed(job_id=job_id, owner_id=job.owner_id, force=True)
    return "planned"


def _plan_input(
    job: Job, job_kind: JobKind[Any], params: Any
) -> tuple[list[str] | None, int, list[Chunk]]:
    """Cut a job's input file into byte ranges: the header, the item count and
    the (unsaved) chunks."""
    if job.input_compression == "gzip":
        _job_decompress_input(job)
    reader = reader_for(job.input_format)
    with job.input_file.storage.open(job.input_file.name, "rb") as raw:
        plan = reader.plan(raw, chunk_size=job.chunk_size)
    if plan.header is not None:
        job_kind.check_columns(plan.header, params)
    if not plan.spans:
        raise InputRejected("no_items", "the input holds no items")
    chunks = [
        Chunk(
            byte_start=span.byte_start,
            byte_end=span.byte_end,
            start_line=span.start_line,
            first_item_number=span.first_item_number,
            item_count=span.item_count,
        )
        for span in plan.spans
    ]
    return plan.header, plan.total_items, chunks


def _plan_work(job: Job, job_kind: JobKind[Any], params: Any) -> tuple[int, list[Chunk]]:
    """Let a kind that takes no input cut its own work into chunks; items are
    numbered from 1 across them."""
    plan = job_kind.plan_work(params, chunk_size=job.chunk_size, owner_id=job.owner_id)
    if not plan.chunks:
        raise InputRejected("no_work", "the kind planned no work")
    chunks, first = [], 1
    for planned in plan.chunks:
        chunks.append(
            Chunk(
                byte_start=0,
                byte_end=0,
                start_line=first,
                first_item_number=first,
                item_count=planned.item_count,
                work=planned.work,
            )
        )
        first += planned.item_count
    return plan.total_items, chunks


def _job_decompress_input(job: Job) -> None:
    """Replace a gzip input by its decompressed form, so that chunks can seek
    to their byte ranges. Streams straight into the stored file (on S3 a
    multipart upload, published only once whole): memory stays flat and no
    temporary copy is made."""
    storage = job.input_file.storage
    compressed = job.input_file.name
    plain = compressed.removesuffix(".gz")
    if storage.exists(plain):  # left by an earlier, interrupted planning
        storage.delete(plain)
    with (
        storage.open(compressed, "rb") as source,
        stored_writer(plain, storage=storage) as (saved, target),
    ):
        gunzip(source, target)
    Job.objects.filter(pk=job.pk).update(input_file=saved, input_compression="")
    storage.delete(compressed)
    job.input_file.name, job.input_compression = saved, ""
