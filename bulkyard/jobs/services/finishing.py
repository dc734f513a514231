"""Finishing a job once every chunk has finished: the kind's finish step, the
final status (and its completion callback sent), then cleanup.

The step is due when ``chunks_finished`` reaches ``chunks_total`` (the last
chunk's commit wakes a worker of the control queue, ``steps``), and runs
under the job's step lease (``claims``), so the kind's finish runs once at a
time, and only the worker that holds the lease writes the final status.

A kind with a second pass (``JobKind.plan_second_pass``; TF-IDF needs every
document counted before any can be scored) enters this step twice:

1. The first time, the kind is asked for its second pass, with the first
   pass's chunk summaries. Its chunks are added to the job (``pass_number``
   2, ``chunks_total`` raised, so the step is no longer due), the lease is
   given up and chunk workers are woken. The job stays ``running``; ``finish``
   does not run.
2. The second-pass chunks run as any chunk does, their items from
   ``ctx.work`` rather than the input; the last one's commit makes the step
   due again.
3. The second time, second-pass chunks exist, so none are planned: the
   kind's ``finish`` runs and the job gets its final status.

There is no third pass, and a job being cancelled gets no second one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.core.outages import is_outage
from bulkyard.jobs import dispatch, events, registry
from bulkyard.jobs.kinds import FinishContext, FinishedChunk, FinishResult, JobKind
from bulkyard.jobs.models import Chunk, Job, JobStatus
from bulkyard.jobs.parts import parts_delete
from bulkyard.jobs.services.callbacks import callback_job_ended
from bulkyard.jobs.services.claims import ClaimedStep, job_step_claim, step_heartbeat
from bulkyard.jobs.services.retention import finished_fields
from bulkyard.jobs.storing import storable_json, storable_text

logger = logging.getLogger(__name__)


def job_finalize(*, job_id: str) -> str:
    """Finish this job if all its chunks are done and nobody is finishing it."""
    claimed = job_step_claim(job_id=job_id, step="finish")
    if claimed is None:
        return "skipped"
    return job_finish_claimed(claimed)


def job_finish_claimed(claimed: ClaimedStep) -> str:
    """Run the kind's finish step (or start its second pass) and give the job
    its final status; returns the status, ``second_pass`` or ``skipped``."""
    job_id = claimed.job_id
    job = Job.objects.get(pk=job_id)
    job_kind = registry.get(job.kind)
    cancelled = job.status == JobStatus.CANCELLING
    # A cancellation may say why (a job paused for too long); it is kept.
    error_code, error_message = (job.error_code, job.error_message) if cancelled else ("", "")
    finish_context = FinishContext(
        job_id=job_id,
        owner_id=job.owner_id,
        params=job_kind.parse_params(job.params),
        cancelled=cancelled,
        chunks=_finished_chunks(job_id),
        counts={
            "total": job.total_items or 0,
            "processed": job.processed_items,
            "succeeded": job.succeeded_items,
            "failed": job.failed_items,
        },
    )
    try:
        with step_heartbeat(claimed):
            if not cancelled and _second_pass_start(job, job_kind, finish_context, claimed):
                return "second_pass"
            finished = job_kind.finish(finish_context) or FinishResult()
    except Exception as exc:
        if is_outage(exc):
            raise
        logger.exception("job %s: finish step failed", job_id)
        finished = FinishResult()
        error_code, error_message = "finish_failed", f"{type(exc).__name__}: {exc}"

    if cancelled:
        status = JobStatus.CANCELLED
    elif error_code:
        status = JobStatus.FAILED
    elif job.failed_items == 0:
        status = JobStatus.SUCCEEDED
    elif job.succeeded_items == 0:
        status = JobStatus.FAILED
        error_code, error_message = "all_items_failed", "every item failed; see the results"
    else:
        status = JobStatus.COMPLETED_WITH_ERRORS
    # A summary the database would refuse (a NaN from a kind's arithmetic)
    # must not keep the job from ending: it is stored as a note instead.
    summary, _ = storable_json(finished.summary)
    now = timezone.now()
    with transaction.atomic():
        held = (
            Job.objects.select_for_update()
            .filter(pk=job_id, lease_token=claimed.token)
            .only("started_at", "paused_at", "time_paused")
            .first()
        )
        if held is None:
            return "skipped"  # another worker took the step over
        # A paused job whose chunks all finished ends too; its pause with it.
        Job.objects.filter(pk=job_id).update(
            status=status,
            **finished_fields(retention_days=job.retention_days, now=now),
            summary=summary,
            output_file=finished.output_file,
            error_code=error_code,
            error_message=storable_text(error_message),
            lease_token=None,
            lease_expires_at=None,
            **held.pause_ended(now),
        )
        callback_job_ended(job_id=job_id)
    metrics.JOBS_FINISHED.labels(job.kind, status).inc()
    logger.info(
        "job %s: %s",
        job_id,
        status,
        extra={
            "status": str(status),
            "succeeded_items": job.succeeded_items,
            "failed_items": job.failed_items,
            "error_code": error_code,
        },
    )
    events.job_changed(job_id=job_id, owner_id=job.owner_id, force=True)
    _job_cleanup(job_id, job_kind)
    return str(status)


def job_fail_step_lost(*, claimed: ClaimedStep) -> None:
    """End a job whose finish step lost its worker too many times."""
    kind, owner_id, retention_days = Job.objects.values_list(
        "kind", "owner_id", "retention_days"
    ).get(pk=claimed.job_id)
    ended = Job.objects.filter(pk=claimed.job_id, lease_token=claimed.token).update(
        status=JobStatus.FAILED,
        **finished_fields(retention_days=retention_days, now=timezone.now()),
        error_code="finish_failed",
        error_message=f"the finish step lost its worker {claimed.attempts - 1} times",
        lease_token=None,
        lease_expires_at=None,
        paused_at=None,  # a job that ends is no longer paused
    )
    callback_job_ended(job_id=claimed.job_id)
    if ended:
        metrics.JOBS_FINISHED.labels(kind, JobStatus.FAILED).inc()
    events.job_changed(job_id=claimed.job_id, owner_id=owner_id, force=True)


def _job_cleanup(job_id: str, job_kind: JobKind[Any]) -> None:
    """Delete the job's part files and the kind's scratch data, once the job's
    end is recorded and announced (deleting 100 parts took 0.1-0.2 s, which
    the client used to wait for). Should the worker die first, ``jobs_purge``
    deletes what is left with the job."""
    try:
        parts_delete(job_id)
        job_kind.cleanup(job_id)
    except Exception:
        logger.exception("job %s: cleanup failed; jobs_purge deletes what is left", job_id)


def _second_pass_start(
    job: Job, job_kind: JobKind[Any], ctx: FinishContext[Any], claimed: ClaimedStep
) -> bool:
    """Plan the kind's second pass and wake its workers, once; False if it has
    none (or it has run). The job stays running; when the last of these chunks
    is done, the job is finished again, and then ``finish`` runs."""
    if Chunk.objects.filter(job_id=job.pk, pass_number=2).exists():
        return False
    plan = job_kind.plan_second_pass(ctx)
    if plan is None or not plan.chunks:
        return False
    now = timezone.now()
    queue = job_kind.queue
    with transaction.atomic():
        handed_over = Job.objects.filter(pk=job.pk, lease_token=claimed.token).update(
            chunks_total=F("chunks_total") + len(plan.chunks),
            lease_token=None,
            lease_expires_at=None,
            step_attempts=0,
        )
        if not handed_over:
            return True  # another worker holds the step now; it decides
        first = (
            Chunk.objects.filter(job_id=job.pk).aggregate(Max("sequence"))["sequence__max"] or 0
        ) + 1
        Chunk.objects.bulk_create(
            [
                Chunk(
                    job_id=job.pk,
                    sequence=first + offset,
                    pass_number=2,
                    byte_start=0,
                    byte_end=0,
                    start_line=0,
                    first_item_number=0,
                    item_count=0,
                    work=planned.work,
                    queue=queue,
                    available_at=now,
                )
                for offset, planned in enumerate(plan.chunks)
            ]
        )
        count = len(plan.chunks)
        transaction.on_commit(lambda: dispatch.wake_chunk_workers(queue, count), robust=True)
    events.job_changed(job_id=str(job.pk), owner_id=job.owner_id, force=True)
    return True


def _finished_chunks(job_id: str) -> list[FinishedChunk]:
    """The job's chunks as its finish step sees them, in sequence order."""
    rows = (
        Chunk.objects.filter(job_id=job_id)
        .order_by("sequence")
        .values_list("sequence", "pass_number", "succeeded_items", "summary")
    )
    return [
        FinishedChunk(
            sequence=sequence,
            pass_number=pass_number,
            succeeded=succeeded,
            summary=summary if isinstance(summary, dict) else None,
        )
        for sequence, pass_number, succeeded, summary in rows
    ]
