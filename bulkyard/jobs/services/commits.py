"""Committing a chunk's outcome: once, under its lease.

A chunk's item results, its counters and status, the job's counters and the
kind's own writes (``JobKind.commit_chunk``) commit in one transaction that
first re-checks the lease token under ``SELECT … FOR UPDATE``: a run that lost
its lease rolls back, so a chunk run twice changes nothing (decision 0001).
The commit that brings ``chunks_finished`` to ``chunks_total`` wakes a worker
of the control queue to finish the job (``finishing``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.jobs import dispatch, events
from bulkyard.jobs.kinds import ChunkContext, ChunkResult, JobKind, failures_by_code
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemOutcome, ItemResult, Job
from bulkyard.jobs.services.leases import LeaseLost
from bulkyard.jobs.storing import MAX_CODE_CHARS, storable_json, storable_text


def _item_result_row(*, job_id: str, chunk_id: int, item: Any) -> ItemResult:
    """An item's result as stored: values the database would refuse are
    replaced by a note (``storing``), so no item's content can fail the commit
    of its chunk."""
    stored_input, input_problem = storable_json(None if item.succeeded else item.input)
    output, output_problem = storable_json(item.output)
    message = item.message
    if input_problem:
        message = f"{message} (input not kept: {input_problem})"
    if output_problem:
        message = f"{message} (output not kept: {output_problem})"
    return ItemResult(
        job_id=job_id,
        chunk_id=chunk_id,
        item_number=item.number,
        outcome=ItemOutcome.SUCCEEDED if item.succeeded else ItemOutcome.FAILED,
        code=storable_text(item.code, limit=MAX_CODE_CHARS),
        message=storable_text(message),
        # Failures keep their input, so that they can be retried.
        input=stored_input,
        output=output,
    )


def chunk_commit(
    *,
    chunk: Chunk,
    token: Any,
    status: str,
    result: ChunkResult,
    kind: JobKind[Any],
    ctx: ChunkContext[Any] | None,
    error_message: str = "",
) -> None:
    """Commit a chunk's results, its counters, the job's counters and its final
    status in one transaction, only while this run still holds the lease."""
    job_id = str(chunk.job_id)
    with transaction.atomic():
        held = (
            Chunk.objects.select_for_update()
            .filter(pk=chunk.pk, status=ChunkStatus.RUNNING, lease_token=token)
            .exists()
        )
        if not held:
            raise LeaseLost
        if ctx is not None:
            kind.commit_chunk(result, ctx)
        ItemResult.objects.bulk_create(
            [
                _item_result_row(job_id=job_id, chunk_id=chunk.pk, item=item)
                for item in result.items
                if not item.succeeded or kind.stores_successes
            ],
            batch_size=2000,
        )
        succeeded, failed = result.succeeded, result.failed
        summary, _ = storable_json(result.summary)
        stopped_part_way = status == ChunkStatus.CANCELLED and succeeded + failed > 0
        Chunk.objects.filter(pk=chunk.pk).update(
            status=status,
            processed_items=succeeded + failed,
            processed_ranges=number_ranges(result) if stopped_part_way else None,
            succeeded_items=succeeded,
            failed_items=failed,
            summary=summary,
            finished_at=timezone.now(),
            lease_token=None,
            lease_expires_at=None,
            error_message=storable_text(error_message),
        )
        job_count_finished_chunks(job_id, chunks=1, succeeded=succeeded, failed=failed)
        owner_id = chunk.job.owner_id
        transaction.on_commit(lambda: events.job_changed(job_id=job_id, owner_id=owner_id))
        codes = failures_by_code(result)
        if result.counted_failures:
            # Items failed without a record each: a chunk that kept failing.
            codes["chunk_failed"] = codes.get("chunk_failed", 0) + result.counted_failures
        # Counted once committed: a run that lost its lease counts nothing.
        transaction.on_commit(
            lambda: metrics.items_committed(
                kind=kind.name, succeeded=succeeded, failed=failed, failures_by_code=codes
            )
        )


def number_ranges(result: ChunkResult) -> list[list[int]]:
    """The numbers of a chunk's processed items as sorted ``[first, last]``
    ranges of consecutive numbers: a chunk stopped after its first 400 items
    of one line each is one range, however many of them were stored."""
    ranges: list[list[int]] = []
    for number in sorted({item.number for item in result.items}):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ranges


def job_count_finished_chunks(job_id: str, *, chunks: int, succeeded: int, failed: int) -> None:
    """Add a finished chunk's counts to its job; the caller's transaction holds
    the job row from here to commit, so exactly one caller sees the last chunk,
    and wakes a worker to finish the job."""
    Job.objects.filter(pk=job_id).update(
        processed_items=F("processed_items") + succeeded + failed,
        succeeded_items=F("succeeded_items") + succeeded,
        failed_items=F("failed_items") + failed,
        chunks_finished=F("chunks_finished") + chunks,
    )
    finished, total = Job.objects.values_list("chunks_finished", "chunks_total").get(pk=job_id)
    if chunks and finished == total:
        transaction.on_commit(dispatch.wake_step_worker, robust=True)


def cancel_pending_chunks(job_id: str) -> int:
    """Close the chunks of a cancelling job that never started. The caller's
    transaction must hold the job row."""
    never_started = Chunk.objects.filter(job_id=job_id, status=ChunkStatus.PENDING).update(
        status=ChunkStatus.CANCELLED, finished_at=timezone.now()
    )
    job_count_finished_chunks(job_id, chunks=never_started, succeeded=0, failed=0)
    return never_started
