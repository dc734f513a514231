"""Running a chunk: claim it, process its items, commit the outcome once.

- Work is never done twice: a chunk is leased by its claim (``claims``), a
  heartbeat keeps the lease while it runs (``leases``), and its outcome
  commits in one transaction guarded by the lease token (``commits``). A
  second run of the same chunk finds it taken or done and does nothing.
- A chunk that raises is tried again after a backoff, up to
  ``BULKYARD_CHUNK_MAX_ATTEMPTS`` times; then its items fail, each with the
  reason, without the input having to be read or stored successfully.
- A chunk whose worker was lost is taken over once its lease has run out
  (``chunk_recover``, by the sweeper or an operator): run again, failed after
  too many attempts, or closed if its job is being cancelled.
- An outage (the database, Redis, the broker gone) is not the chunk's fault:
  its worker waits for the service, hands the chunk back without counting the
  attempt, and a wake-up sends it to a worker again (``outages``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from bulkyard.core import metrics
from bulkyard.core.backoff import backoff_seconds
from bulkyard.core.logs import log_context
from bulkyard.core.outages import is_outage, when_reachable
from bulkyard.jobs import dispatch, registry, selectors
from bulkyard.jobs.inputs import Span, reader_for
from bulkyard.jobs.kinds import ChunkContext, ChunkResult, Item, failure
from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobStatus
from bulkyard.jobs.services.claims import ClaimedChunk, chunk_claim, chunk_claim_next
from bulkyard.jobs.services.commits import chunk_commit
from bulkyard.jobs.services.leases import Heartbeat, LeaseLost, lease_expiry, new_token
from bulkyard.jobs.services.missing import chunk_input_open
from bulkyard.jobs.storing import storable_text

logger = logging.getLogger(__name__)


def chunk_run_next(*, queue: str) -> str:
    """Claim the next chunk of ``queue`` and run it; ``idle`` if there is none."""
    claimed = chunk_claim_next(queue=queue)
    if claimed is None:
        return "idle"
    return _chunk_execute(claimed)


def chunk_run(*, chunk_id: int) -> str:
    """Claim this chunk, if it is pending, and run it.

    Returns what happened: ``done``, ``cancelled``, ``skipped`` (not pending, or
    its job is not running), ``lease_lost``, ``retry_scheduled``, ``failed`` or
    ``released`` (handed back during an outage).
    """
    claimed = chunk_claim(chunk_id=chunk_id)
    if claimed is None:
        return "skipped"
    return _chunk_execute(claimed)


class _StopCheck:
    """Between items: reports cancellation (read at most once per
    ``BULKYARD_CHUNK_CHECK_SECONDS``) and raises ``LeaseLost`` once another
    worker took the chunk."""

    def __init__(self, *, job_id: str, heartbeat: Heartbeat) -> None:
        self.job_id = job_id
        self.heartbeat = heartbeat
        self.last_check = time.monotonic()
        self.cancelled = False

    def __call__(self) -> bool:
        if self.heartbeat.lost:
            raise LeaseLost
        now = time.monotonic()
        if now - self.last_check >= settings.BULKYARD_CHUNK_CHECK_SECONDS:
            self.last_check = now
            self.cancelled = Job.objects.filter(
                pk=self.job_id, status=JobStatus.CANCELLING
            ).exists()
        return self.cancelled


def _renewer(chunk_id: int, token: Any) -> Any:
    def renew() -> bool:
        return bool(
            Chunk.objects.filter(pk=chunk_id, status=ChunkStatus.RUNNING, lease_token=token).update(
                lease_expires_at=lease_expiry()
            )
        )

    return renew


def _chunk_execute(claimed: ClaimedChunk) -> str:
    chunk_id, token = claimed.chunk_id, claimed.token
    try:
        chunk = Chunk.objects.select_related("job").get(pk=chunk_id)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return _chunk_hand_back(chunk_id=chunk_id, token=token, error=exc)
    job = chunk.job
    # Every log line of the run (the kind's, Celery's own) names its work.
    with log_context(
        job_id=str(job.pk),
        chunk_id=chunk_id,
        kind=job.kind,
        owner=job.owner_id,
        until_task_ends=True,
    ):
        started = time.perf_counter()
        outcome = _chunk_execute_loaded(chunk, token)
        metrics.CHUNK_RUNS.labels(job.kind, outcome).inc()
        if outcome in (ChunkStatus.DONE, ChunkStatus.CANCELLED):
            metrics.CHUNK_DURATION.labels(job.kind).observe(time.perf_counter() - started)
        return outcome


def _chunk_execute_loaded(chunk: Chunk, token: Any) -> str:
    chunk_id, job = chunk.pk, chunk.job
    job_kind = registry.get(job.kind)
    heartbeat = Heartbeat(name=f"chunk-{chunk_id}", renew=_renewer(chunk_id, token))
    ctx: ChunkContext[Any] = ChunkContext(
        job_id=str(job.pk),
        chunk_sequence=chunk.sequence,
        params=job_kind.parse_params(job.params),
        attempt=chunk.attempts,
        stop_check=_StopCheck(job_id=str(job.pk), heartbeat=heartbeat),
        work=chunk.work,
        pass_number=chunk.pass_number,
        owner_id=job.owner_id,
        job_created_at=job.created_at,
        root_job_lookup=selectors.job_root_id,
        attachments_lookup=selectors.job_attachments_read,
    )
    try:
        with heartbeat, chunk_items(job, chunk) as items:
            result = job_kind.process_chunk(items, ctx)
            status = ChunkStatus.CANCELLED if ctx.stopped else ChunkStatus.DONE
            chunk_commit(
                chunk=chunk, token=token, status=status, result=result, kind=job_kind, ctx=ctx
            )
    except LeaseLost:
        logger.warning("chunk %s: lease lost to another worker; dropping this run", chunk_id)
        return "lease_lost"
    except Exception as exc:
        if is_outage(exc):
            return _chunk_hand_back(chunk_id=chunk_id, token=token, error=exc)
        logger.exception("chunk %s (attempt %s) failed", chunk_id, chunk.attempts)
        error = exc  # the except clause unbinds ``exc`` when it ends
        return when_reachable(
            lambda: _chunk_release_after_error(chunk=chunk, token=token, error=error),
            within=settings.BULKYARD_CHUNK_LEASE_SECONDS,
            what=f"chunk {chunk_id}",
        )
    return str(status)


def _chunk_hand_back(*, chunk_id: int, token: Any, error: Exception) -> str:
    """Give back a chunk an outage interrupted, as soon as the database takes
    the write: pending again, its attempt not counted, and a worker woken.
    Should the outage outlast the lease, the outage's error is raised and the
    sweeper hands the chunk on once its lease has run out."""
    logger.warning("chunk %s: a service went away (%s); handing it back", chunk_id, error)

    def release() -> str | None:
        chunks = Chunk.objects.filter(pk=chunk_id, status=ChunkStatus.RUNNING, lease_token=token)
        queue = chunks.values_list("queue", flat=True).first()
        released = chunks.update(
            status=ChunkStatus.PENDING,
            attempts=F("attempts") - 1,
            lease_token=None,
            lease_expires_at=None,
            available_at=timezone.now(),
        )
        return queue if released else None

    queue = when_reachable(
        release, within=settings.BULKYARD_CHUNK_LEASE_SECONDS, what=f"chunk {chunk_id}"
    )
    if queue is not None:
        # Should the broker be the service that is away, the sweeper wakes a
        # worker once it is back.
        _wake_quietly(queue)
    return "released"


def _wake_quietly(queue: str, *, countdown: float = 0) -> None:
    try:
        dispatch.wake_chunk_workers(queue, countdown=countdown)
    except Exception:
        logger.warning("could not wake a worker of %s; the sweeper will", queue, exc_info=True)


def _span(chunk: Chunk) -> Span:
    return Span(
        byte_start=chunk.byte_start,
        byte_end=chunk.byte_end,
        start_line=chunk.start_line,
        first_item_number=chunk.first_item_number,
        item_count=chunk.item_count,
    )


@contextmanager
def chunk_items(job: Job, chunk: Chunk) -> Iterator[Iterator[Item]]:
    """The items of a chunk, read from the job's input by its format's reader;
    none for kinds that take no input, nor for a second pass's chunks (they
    read ``ctx.work``)."""
    if not job.input_file or chunk.pass_number > 1:
        yield iter(())
        return
    reader = reader_for(job.input_format)
    max_file_bytes = registry.get(job.kind).max_file_bytes()
    with chunk_input_open(job.input_file.storage, job.input_file.name) as raw:
        yield reader.read(raw, _span(chunk), header=job.input_header, max_file_bytes=max_file_bytes)


def _chunk_release_after_error(*, chunk: Chunk, token: Any, error: Exception) -> str:
    """A chunk raised: try it again later with backoff, or fail it for good
    (or, if its job is being cancelled, close it as cancelled)."""
    message = storable_text(f"{type(error).__name__}: {error}", limit=2000)
    try:
        if Job.objects.filter(pk=chunk.job_id, status=JobStatus.CANCELLING).exists():
            chunk_close_cancelled(chunk=chunk, token=token)
            return "cancelled"
        if chunk.attempts >= settings.BULKYARD_CHUNK_MAX_ATTEMPTS:
            chunk_fail_exhausted(chunk=chunk, token=token, reason=message)
            return "failed"
    except LeaseLost:
        return "lease_lost"
    delay = backoff_seconds(chunk.attempts)
    released = Chunk.objects.filter(
        pk=chunk.pk, status=ChunkStatus.RUNNING, lease_token=token
    ).update(
        status=ChunkStatus.PENDING,
        lease_token=None,
        lease_expires_at=None,
        available_at=timezone.now() + timedelta(seconds=delay),
        error_message=message,
    )
    if released:
        _wake_quietly(chunk.queue, countdown=delay)
    return "retry_scheduled"


def chunk_fail_exhausted(*, chunk: Chunk, token: Any, reason: str) -> None:
    """Fail every item of a chunk that keeps crashing.

    Items keep their inputs where the input can still be read; reading is
    not needed to fail them: should the reader break too, the items it did
    not reach are counted as failed, and the chunk's message says why. The
    counts stay exact either way.
    """
    job = chunk.job
    job_kind = registry.get(job.kind)
    message = f"processing failed {chunk.attempts} times; last error: {reason}"
    result = ChunkResult()
    if not job.input_file:
        # Nothing to keep for a retry: the items are the kind's own.
        result.counted_failures = chunk.item_count
    else:
        try:
            with chunk_items(job, chunk) as items:
                for item in items:
                    error = item.error
                    code, text = (error.code, error.message) if error else ("chunk_failed", message)
                    result.items.append(failure(item, code, text))
        except Exception as exc:
            if is_outage(exc):
                raise
            logger.exception(
                "chunk %s: its input cannot be read back; counting its items", chunk.pk
            )
            message = (
                f"{message}; {chunk.item_count - len(result.items)} item(s) could not be read "
                f"back to be reported one by one ({type(exc).__name__}: {exc})"
            )
        result.counted_failures = max(chunk.item_count - len(result.items), 0)
    chunk_commit(
        chunk=chunk,
        token=token,
        status=ChunkStatus.FAILED,
        result=result,
        kind=job_kind,
        ctx=None,
        error_message=message,
    )


def chunk_close_cancelled(*, chunk: Chunk, token: Any) -> None:
    """Close a chunk of a cancelling job whose run was lost or crashed: what
    that run did was never committed, so it counts as not done."""
    chunk_commit(
        chunk=chunk,
        token=token,
        status=ChunkStatus.CANCELLED,
        result=ChunkResult(),
        kind=registry.get(chunk.job.kind),
        ctx=None,
    )


def chunk_recover(*, chunk: Chunk) -> str:
    """Take over a running chunk whose lease ran out (its worker was lost):
    close it if its job is cancelling, fail it after too many attempts, else
    make it pending again and wake a worker. ``skipped`` if it was not ours
    to take (renewed, or taken by another sweep)."""
    now = timezone.now()
    token = chunk.lease_token
    new = Chunk.objects.filter(
        pk=chunk.pk, status=ChunkStatus.RUNNING, lease_token=token, lease_expires_at__lt=now
    )
    taken = new_token()
    if not new.update(lease_token=taken, lease_expires_at=lease_expiry()):
        return "skipped"
    metrics.LEASE_EXPIRIES.labels("chunk").inc()
    job = chunk.job
    with log_context(job_id=str(job.pk), chunk_id=chunk.pk, kind=job.kind, owner=job.owner_id):
        return _chunk_take_over(chunk, taken=taken, now=now)


def _chunk_take_over(chunk: Chunk, *, taken: Any, now: datetime) -> str:
    try:
        if Job.objects.filter(pk=chunk.job_id, status=JobStatus.CANCELLING).exists():
            chunk_close_cancelled(chunk=chunk, token=taken)
            return "cancelled"
        if chunk.attempts >= settings.BULKYARD_CHUNK_MAX_ATTEMPTS:
            chunk_fail_exhausted(chunk=chunk, token=taken, reason="the worker running it was lost")
            return "failed"
    except LeaseLost:
        return "skipped"
    if Chunk.objects.filter(pk=chunk.pk, lease_token=taken).update(
        status=ChunkStatus.PENDING, lease_token=None, lease_expires_at=None, available_at=now
    ):
        logger.warning("chunk %s: lease expired, handed to another worker", chunk.pk)
        _wake_quietly(chunk.queue)
        return "requeued"
    return "skipped"
