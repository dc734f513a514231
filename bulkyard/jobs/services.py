"""The job engine's business logic. API views, admin actions and tasks call these.

Guarantees, and how they are kept:
- Accepted work is never lost: the job row and its input file exist before the
  client gets 202; tasks are enqueued only after commit; messages are acked
  late; a periodic sweeper re-enqueues whatever a crash or a lost message left.
- Work is never done twice: a chunk is claimed by a conditional update that
  hands out a lease token, and its item results, its counters, the job's
  counters and its ``done`` status commit in one transaction guarded by that
  token. A second run of the same chunk finds it done and does nothing.
- The finish step runs once: the chunk whose commit brings ``chunks_finished``
  to ``chunks_total`` enqueues it, and it starts only through a guarded update.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import DatabaseError, IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import F, Max, Q
from django.utils import timezone

from bulkyard.jobs import dispatch, events, registry
from bulkyard.jobs.inputs import (
    READER_ERROR_CODES,
    Span,
    gunzip,
    plan_input,
    read_span,
    sniff_upload,
)
from bulkyard.jobs.kinds import (
    CONTENT_OMITTED,
    ChunkContext,
    ChunkResult,
    CodedError,
    FinishContext,
    FinishResult,
    InputRejected,
    Item,
    JobKind,
    failure,
)
from bulkyard.jobs.models import (
    JOB_ACTIVE_STATUSES,
    JOB_FINISHED_STATUSES,
    Chunk,
    ChunkStatus,
    InputFormat,
    ItemOutcome,
    ItemResult,
    Job,
    JobAttachment,
    JobStatus,
)
from bulkyard.jobs.parts import parts_delete
from bulkyard.jobs.zipinput import plan_zip, read_zip_span, zip_check

logger = logging.getLogger(__name__)


class JobConflict(CodedError):
    """The job is not in a state that allows the requested change."""


class IdempotencyKeyMismatch(Exception):
    """The Idempotency-Key was first used with a different request."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"the key was used for job {job.pk} with a different request")
        self.job = job


class InvalidJobRequest(CodedError):
    """The request names an unknown kind, bad params or an unusable input."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(code, message)
        self.details = details


class LeaseLost(Exception):
    """Another worker took this chunk over; this run's results must be dropped."""


@dataclass(frozen=True, slots=True)
class JobInput:
    """An input already on local disk or in memory, with its content hash."""

    file: File[Any]
    format: str
    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class AttachmentInput:
    """A file sent with a job besides its input (see ``JobKind.accepts_attachments``)."""

    file: File[Any]
    name: str
    content_type: str
    sha256: str
    size: int


def _validate_attachments(job_kind: JobKind[Any], attachments: Sequence[AttachmentInput]) -> None:
    if not attachments:
        return
    if not job_kind.accepts_attachments:
        raise InvalidJobRequest(
            "attachments_not_accepted", f"kind {job_kind.name!r} takes no attachments"
        )
    limit = settings.BULKYARD_MAX_ATTACHMENTS
    if len(attachments) > limit:
        raise InvalidJobRequest("too_many_attachments", f"at most {limit} attachments")
    total, budget = sum(a.size for a in attachments), settings.BULKYARD_MAX_ATTACHMENT_BYTES
    if total > budget:
        raise InvalidJobRequest(
            "attachments_too_large",
            f"attachments total {total} bytes; at most {budget} bytes are accepted",
        )
    names = [a.name for a in attachments]
    for name in names:
        if not name or len(name) > 200 or any(c in name for c in '/\\\r\n\x00"'):
            raise InvalidJobRequest(
                "invalid_attachment_name",
                f"attachment name {name!r}: 1 to 200 characters, no slashes, quotes or line breaks",
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidJobRequest(
            "duplicate_attachment_name", f"attachment name(s) sent twice: {', '.join(repeated)}"
        )


def _fingerprint(**parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate_request(
    *,
    kind: str,
    params: dict[str, Any] | None,
    job_input: JobInput | None,
    chunk_size: int | None,
) -> tuple[JobKind[Any], dict[str, Any], int, bool]:
    """The kind, the validated params, the chunk size and whether the input is
    gzip-compressed; raises ``InvalidJobRequest``."""
    from pydantic import ValidationError

    try:
        job_kind = registry.get(kind)
    except registry.UnknownKind:
        known = ", ".join(k.name for k in registry.all_kinds())
        raise InvalidJobRequest("unknown_kind", f"unknown kind {kind!r}; known: {known}") from None
    try:
        parsed = job_kind.parse_params(params)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "params", "message": err["msg"]}
            for err in exc.errors()
        ]
        first = details[0]
        raise InvalidJobRequest(
            "invalid_params", f"params.{first['field']}: {first['message']}", details
        ) from None
    size = chunk_size or job_kind.effective_chunk_size()
    if not 1 <= size <= job_kind.max_chunk_size:
        raise InvalidJobRequest(
            "invalid_chunk_size", f"chunk_size must be between 1 and {job_kind.max_chunk_size}"
        )
    if not job_kind.takes_input(parsed):
        if job_input is not None:
            raise InvalidJobRequest(
                "input_not_accepted",
                f"kind {kind!r} finds its own items here; send no 'items' and no 'file'",
            )
        return job_kind, parsed.model_dump(mode="json"), size, False
    if job_input is None:
        raise InvalidJobRequest(
            "input_required", f"kind {kind!r} needs items: send inline 'items' or a 'file'"
        )
    if job_input.format != InputFormat.RETRY and job_input.format not in job_kind.input_formats:
        raise InvalidJobRequest(
            "unsupported_format",
            f"kind {kind!r} reads {', '.join(job_kind.input_formats)}, not {job_input.format}",
        )
    if job_input.format == InputFormat.ZIP:
        try:
            job_input.file.seek(0)
            zip_check(job_input.file)
        except InputRejected as exc:
            raise InvalidJobRequest(exc.code, exc.message) from None
        finally:
            job_input.file.seek(0)
        return job_kind, parsed.model_dump(mode="json"), size, False
    try:
        header, compressed = sniff_upload(job_input.file, job_input.format)
        if header is not None:
            job_kind.check_columns(header, parsed)
    except InputRejected as exc:
        raise InvalidJobRequest(exc.code, exc.message) from None
    return job_kind, parsed.model_dump(mode="json"), size, compressed


def job_create(
    *,
    owner: User,
    kind: str,
    params: dict[str, Any] | None,
    job_input: JobInput | None,
    chunk_size: int | None = None,
    idempotency_key: str | None = None,
    retry_of: Job | None = None,
    attachments: Sequence[AttachmentInput] = (),
) -> tuple[Job, bool]:
    """Validate and store a new job, and enqueue its planning after commit.

    Returns ``(job, created)``. With an ``idempotency_key`` already used by this
    owner for the same request, returns the first job and ``created=False``; for
    a different request, raises ``IdempotencyKeyMismatch``. Raises
    ``InvalidJobRequest`` for an unknown kind, bad params or an unusable input;
    nothing is stored then. ``job_input`` is None for kinds that take no input;
    ``attachments`` are files kept with the job for kinds that accept them.
    """
    job_kind, clean_params, size, compressed = _validate_request(
        kind=kind, params=params, job_input=job_input, chunk_size=chunk_size
    )
    _validate_attachments(job_kind, attachments)
    fingerprint = _fingerprint(
        kind=kind,
        params=clean_params,
        chunk_size=chunk_size,
        format=job_input.format if job_input else None,
        input=job_input.sha256 if job_input else None,
        retry_of=str(retry_of.pk) if retry_of else None,
        attachments=[(a.name, a.sha256) for a in attachments],
    )
    if idempotency_key:
        existing = _job_for_key(owner, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False

    job = Job(
        owner=owner,
        kind=job_kind.name,
        params=clean_params,
        input_format=job_input.format if job_input else InputFormat.NONE,
        input_name=job_input.name[:255] if job_input else "",
        input_size=job_input.size if job_input else 0,
        chunk_size=size,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        retry_of=retry_of,
    )
    if job_input is not None:
        extension = {InputFormat.CSV: "csv", InputFormat.ZIP: "zip"}.get(
            InputFormat(job_input.format), "jsonl"
        )
        if compressed:
            job.input_compression, extension = "gzip", f"{extension}.gz"
        job.input_file.save(f"{job.pk}.{extension}", job_input.file, save=False)
    stored_attachments = []
    for attachment in attachments:
        stored = JobAttachment(
            job=job,
            name=attachment.name,
            content_type=attachment.content_type[:255],
            size=attachment.size,
            sha256=attachment.sha256,
        )
        stored.file.save(attachment.name, attachment.file, save=False)
        stored_attachments.append(stored)
    try:
        with transaction.atomic():
            job.save(force_insert=True)
            JobAttachment.objects.bulk_create(stored_attachments)
            job_id = str(job.pk)
            # robust: a broker outage must not turn an accepted job into a 500;
            # the sweeper plans jobs whose message never left.
            transaction.on_commit(lambda: dispatch.enqueue_plan(job_id), robust=True)
    except IntegrityError:
        if job.input_file:
            job.input_file.delete(save=False)
        for stored in stored_attachments:
            stored.file.delete(save=False)
        if not idempotency_key:
            raise
        # Another request with the same key won the race; answer as it did.
        existing = _job_for_key(owner, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    return job, True


def _job_for_key(owner: User, key: str, fingerprint: str) -> Job | None:
    existing = Job.objects.filter(owner=owner, idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyMismatch(existing)
    return existing


def job_fail(*, job_id: str, code: str, message: str) -> None:
    """Fail a job that cannot run at all (its input is unusable)."""
    Job.objects.filter(pk=job_id, status__in=JOB_ACTIVE_STATUSES).update(
        status=JobStatus.FAILED, error_code=code, error_message=message, finished_at=timezone.now()
    )
    owner_id = Job.objects.values_list("owner_id", flat=True).get(pk=job_id)
    events.job_changed(job_id=job_id, owner_id=owner_id, force=True)


def job_plan(*, job_id: str) -> str:
    """Cut a queued job's input into chunks and enqueue them. Safe to run twice."""
    job = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).first()
    if job is None:
        return "skipped"
    job_kind = registry.get(job.kind)
    params = job_kind.parse_params(job.params)
    header: list[str] | None = None
    try:
        if job_kind.takes_input(params):
            header, total_items, chunks = _plan_input(job, job_kind, params)
        else:
            total_items, chunks = _plan_work(job, job_kind, params)
    except InputRejected as exc:
        job_fail(job_id=job_id, code=exc.code, message=exc.message)
        return "failed"
    except OSError as exc:
        job_fail(job_id=job_id, code="input_unreadable", message=f"cannot read the input: {exc}")
        return "failed"
    except Exception as exc:
        # Planning reads only the input: an error here would recur on every
        # retry, so the job fails with the reason instead of being re-planned.
        logger.exception("job %s: planning failed", job_id)
        job_fail(job_id=job_id, code="planning_failed", message=f"{type(exc).__name__}: {exc}")
        return "failed"

    now = timezone.now()
    with transaction.atomic():
        started = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            started_at=now,
            total_items=total_items,
            chunks_total=len(chunks),
            input_header=header,
        )
        if not started:
            return "skipped"  # cancelled while we were reading
        for sequence, chunk in enumerate(chunks):
            chunk.job_id, chunk.sequence, chunk.enqueued_at = job.pk, sequence, now
        Chunk.objects.bulk_create(chunks, batch_size=1000)
        chunk_ids = list(
            Chunk.objects.filter(job_id=job_id).order_by("sequence").values_list("pk", flat=True)
        )
        transaction.on_commit(
            lambda: dispatch.enqueue_chunks(chunk_ids, queue=job_kind.queue), robust=True
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
    with job.input_file.storage.open(job.input_file.name, "rb") as raw:
        if job.input_format == InputFormat.ZIP:
            plan = plan_zip(raw, chunk_size=job.chunk_size)
        else:
            plan = plan_input(raw, job.input_format, chunk_size=job.chunk_size)
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
    plan = job_kind.plan_work(params, chunk_size=job.chunk_size)
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
    to their byte ranges. Streams through a temporary file: memory stays flat."""
    storage = job.input_file.storage
    compressed = job.input_file.name
    plain = compressed.removesuffix(".gz")
    with tempfile.TemporaryFile() as spool:
        with storage.open(compressed, "rb") as source:
            gunzip(source, spool)
        spool.seek(0)
        if storage.exists(plain):  # left by an earlier, interrupted planning
            storage.delete(plain)
        saved = storage.save(plain, File(spool))
    Job.objects.filter(pk=job.pk).update(input_file=saved, input_compression="")
    storage.delete(compressed)
    job.input_file.name, job.input_compression = saved, ""


def _span(chunk: Chunk) -> Span:
    return Span(
        byte_start=chunk.byte_start,
        byte_end=chunk.byte_end,
        start_line=chunk.start_line,
        first_item_number=chunk.first_item_number,
        item_count=chunk.item_count,
    )


class _Lease:
    """Holds a chunk's lease while a worker runs it.

    A background thread renews the lease every third of its length, so a slow
    item, or a kind that processes a whole batch at once, never loses it while
    the worker lives; when the worker dies, renewals stop and the sweeper takes
    the chunk over. Called between items, it reports cancellation (checked at
    most once per ``BULKYARD_CHUNK_CHECK_SECONDS``) and raises ``LeaseLost``
    if another worker took the chunk.
    """

    def __init__(self, *, chunk_id: int, job_id: str, token: uuid.UUID) -> None:
        self.chunk_id = chunk_id
        self.job_id = job_id
        self.token = token
        self.last_check = time.monotonic()
        self.cancelled = False
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"lease-chunk-{chunk_id}", daemon=True
        )

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _renew(self) -> None:
        interval = settings.BULKYARD_CHUNK_LEASE_SECONDS / 3
        try:
            while not self._stop.wait(interval):
                try:
                    renewed = Chunk.objects.filter(
                        pk=self.chunk_id, status=ChunkStatus.RUNNING, lease_token=self.token
                    ).update(lease_expires_at=_lease_expiry())
                except Exception:
                    logger.warning("chunk %s: lease renewal failed", self.chunk_id, exc_info=True)
                    continue
                if not renewed:
                    self.lost = True
                    return
        finally:
            db_connection.close()  # this thread's own connection

    def __call__(self) -> bool:
        if self.lost:
            raise LeaseLost
        now = time.monotonic()
        if now - self.last_check >= settings.BULKYARD_CHUNK_CHECK_SECONDS:
            self.last_check = now
            self.cancelled = Job.objects.filter(
                pk=self.job_id, status=JobStatus.CANCELLING
            ).exists()
        return self.cancelled


def _lease_expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.BULKYARD_CHUNK_LEASE_SECONDS)


def chunk_run(*, chunk_id: int) -> str:
    """Claim a pending chunk, process its items and commit the outcome once.

    Returns what happened: ``done``, ``cancelled``, ``skipped`` (not pending, or
    its job is not running), ``lease_lost`` or ``retry_scheduled``.
    """
    token = uuid.uuid4()
    now = timezone.now()
    # The job test is a subquery on job ids, not a join: PostgreSQL re-checks
    # conditions on the updated row itself after waiting for a concurrent
    # writer, so two claims can never both win.
    claimed = Chunk.objects.filter(
        pk=chunk_id,
        status=ChunkStatus.PENDING,
        job_id__in=Job.objects.filter(status=JobStatus.RUNNING).values("pk"),
    ).update(
        status=ChunkStatus.RUNNING,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=_lease_expiry(),
        started_at=now,
    )
    if not claimed:
        return "skipped"
    chunk = Chunk.objects.select_related("job").get(pk=chunk_id)
    job = chunk.job
    job_kind = registry.get(job.kind)
    lease = _Lease(chunk_id=chunk_id, job_id=str(job.pk), token=token)
    ctx: ChunkContext[Any] = ChunkContext(
        job_id=str(job.pk),
        chunk_sequence=chunk.sequence,
        params=job_kind.parse_params(job.params),
        attempt=chunk.attempts,
        stop_check=lease,
        work=chunk.work,
        pass_number=chunk.pass_number,
    )
    try:
        with lease, _chunk_items(job, chunk) as items:
            result = job_kind.process_chunk(items, ctx)
            status = ChunkStatus.CANCELLED if ctx.stopped else ChunkStatus.DONE
            _chunk_commit(
                chunk=chunk, token=token, status=status, result=result, kind=job_kind, ctx=ctx
            )
    except LeaseLost:
        logger.warning("chunk %s: lease lost to another worker; dropping this run", chunk_id)
        return "lease_lost"
    except Exception as exc:
        logger.exception("chunk %s (attempt %s) failed", chunk_id, chunk.attempts)
        return _chunk_release_after_error(chunk=chunk, token=token, error=exc)
    return str(status)


@contextmanager
def _chunk_items(job: Job, chunk: Chunk) -> Iterator[Iterator[Item]]:
    """The items of a chunk, read from the job's input; none for kinds that
    take no input (they read ``ctx.work``)."""
    if not job.input_file or chunk.pass_number > 1:
        yield iter(())
        return
    with job.input_file.storage.open(job.input_file.name, "rb") as raw:
        if job.input_format == InputFormat.ZIP:
            yield read_zip_span(
                raw, _span(chunk), max_item_bytes=registry.get(job.kind).max_file_bytes()
            )
        else:
            yield read_span(raw, job.input_format, header=job.input_header, span=_span(chunk))


def _chunk_commit(
    *,
    chunk: Chunk,
    token: uuid.UUID,
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
                ItemResult(
                    job_id=job_id,
                    chunk_id=chunk.pk,
                    item_number=item.number,
                    outcome=ItemOutcome.SUCCEEDED if item.succeeded else ItemOutcome.FAILED,
                    code=item.code,
                    message=item.message,
                    # Failures keep their input, so that they can be retried.
                    input=None if item.succeeded else item.input,
                    output=item.output,
                )
                for item in result.items
                if not item.succeeded or kind.stores_successes
            ],
            batch_size=2000,
        )
        succeeded, failed = result.succeeded, result.failed
        Chunk.objects.filter(pk=chunk.pk).update(
            status=status,
            processed_items=succeeded + failed,
            succeeded_items=succeeded,
            failed_items=failed,
            summary=result.summary,
            finished_at=timezone.now(),
            lease_token=None,
            lease_expires_at=None,
            error_message=error_message,
        )
        _job_count_finished_chunks(job_id, chunks=1, succeeded=succeeded, failed=failed)
        owner_id = chunk.job.owner_id
        transaction.on_commit(lambda: events.job_changed(job_id=job_id, owner_id=owner_id))


def _job_count_finished_chunks(job_id: str, *, chunks: int, succeeded: int, failed: int) -> None:
    """Add a finished chunk's counts to its job; the caller's transaction holds
    the job row from here to commit, so exactly one caller sees the last chunk."""
    Job.objects.filter(pk=job_id).update(
        processed_items=F("processed_items") + succeeded + failed,
        succeeded_items=F("succeeded_items") + succeeded,
        failed_items=F("failed_items") + failed,
        chunks_finished=F("chunks_finished") + chunks,
    )
    finished, total = Job.objects.values_list("chunks_finished", "chunks_total").get(pk=job_id)
    if chunks and finished == total:
        transaction.on_commit(lambda: dispatch.enqueue_finalize(job_id), robust=True)


def _chunk_release_after_error(*, chunk: Chunk, token: uuid.UUID, error: Exception) -> str:
    """A chunk raised: try it again later with backoff, or fail it for good
    (or, if its job is being cancelled, close it as cancelled)."""
    message = f"{type(error).__name__}: {error}"[:2000]
    if Job.objects.filter(pk=chunk.job_id, status=JobStatus.CANCELLING).exists():
        try:
            _chunk_close_cancelled(chunk=chunk, token=token)
        except LeaseLost:
            return "lease_lost"
        return "cancelled"
    if chunk.attempts >= settings.BULKYARD_CHUNK_MAX_ATTEMPTS:
        try:
            _chunk_fail_exhausted(chunk=chunk, token=token, reason=message)
        except LeaseLost:
            return "lease_lost"
        return "failed"
    released = Chunk.objects.filter(
        pk=chunk.pk, status=ChunkStatus.RUNNING, lease_token=token
    ).update(
        status=ChunkStatus.PENDING,
        lease_token=None,
        lease_expires_at=None,
        enqueued_at=timezone.now(),
        error_message=message,
    )
    if released:
        job_kind = registry.get(chunk.job.kind)
        delay = dispatch.backoff_seconds(chunk.attempts)
        dispatch.enqueue_chunks([chunk.pk], queue=job_kind.queue, countdown=delay)
    return "retry_scheduled"


def _chunk_fail_exhausted(*, chunk: Chunk, token: uuid.UUID, reason: str) -> None:
    """Fail every item of a chunk that keeps crashing, keeping their inputs."""
    job = chunk.job
    job_kind = registry.get(job.kind)
    message = f"processing failed {chunk.attempts} times; last error: {reason}"
    result = ChunkResult()
    if not job.input_file:
        # Nothing to keep for a retry: the items are the kind's own.
        result.counted_failures = chunk.item_count
    with _chunk_items(job, chunk) as items:
        for item in items:
            if item.error is not None:
                result.items.append(failure(item, item.error.code, item.error.message))
            else:
                result.items.append(failure(item, "chunk_failed", message))

    def commit() -> None:
        _chunk_commit(
            chunk=chunk,
            token=token,
            status=ChunkStatus.FAILED,
            result=result,
            kind=job_kind,
            ctx=None,
            error_message=message,
        )

    try:
        commit()
    except DatabaseError:
        # An input the database refuses must not keep the chunk from closing.
        logger.exception("chunk %s: storing failed inputs failed; storing without", chunk.pk)
        for stored in result.items:
            stored.input = None
        commit()


def _chunk_close_cancelled(*, chunk: Chunk, token: uuid.UUID) -> None:
    """Close a chunk of a cancelling job whose run was lost or crashed: what
    that run did was never committed, so it counts as not done."""
    _chunk_commit(
        chunk=chunk,
        token=token,
        status=ChunkStatus.CANCELLED,
        result=ChunkResult(),
        kind=registry.get(chunk.job.kind),
        ctx=None,
    )


def job_finalize(*, job_id: str) -> str:
    """Run the kind's finish step once and give the job its final status."""
    started = timezone.now()
    claimed = Job.objects.filter(
        pk=job_id,
        status__in=[JobStatus.RUNNING, JobStatus.CANCELLING],
        finalize_started_at__isnull=True,
        chunks_total__isnull=False,
        chunks_finished=F("chunks_total"),
    ).update(finalize_started_at=started)
    if not claimed:
        return "skipped"
    job = Job.objects.get(pk=job_id)
    job_kind = registry.get(job.kind)
    cancelled = job.status == JobStatus.CANCELLING
    error_code = error_message = ""
    finish_context = FinishContext(
        job_id=job_id,
        owner_id=job.owner_id,
        params=job_kind.parse_params(job.params),
        cancelled=cancelled,
        chunk_summaries=_chunk_summaries(job_id),
        counts={
            "total": job.total_items or 0,
            "processed": job.processed_items,
            "succeeded": job.succeeded_items,
            "failed": job.failed_items,
        },
    )
    try:
        if not cancelled and _second_pass_start(job, job_kind, finish_context, started):
            return "second_pass"
        finished = job_kind.finish(finish_context) or FinishResult()
    except Exception as exc:
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
    Job.objects.filter(pk=job_id, finalize_started_at=started).update(
        status=status,
        finished_at=timezone.now(),
        summary=finished.summary,
        output_file=finished.output_file,
        error_code=error_code,
        error_message=error_message,
    )
    events.job_changed(job_id=job_id, owner_id=job.owner_id, force=True)
    _job_cleanup(job_id, job_kind)
    return str(status)


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
    job: Job, job_kind: JobKind[Any], ctx: FinishContext[Any], started: datetime
) -> bool:
    """Plan and enqueue the kind's second pass, once; False if it has none (or
    it has run). The job stays running; the last of these chunks finalizes it
    again, and then ``finish`` runs."""
    if Chunk.objects.filter(job_id=job.pk, pass_number=2).exists():
        return False
    plan = job_kind.plan_second_pass(ctx)
    if plan is None or not plan.chunks:
        return False
    now = timezone.now()
    with transaction.atomic():
        first = (
            Chunk.objects.filter(job_id=job.pk).aggregate(Max("sequence"))["sequence__max"] or 0
        ) + 1
        created = Chunk.objects.bulk_create(
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
                    enqueued_at=now,
                )
                for offset, planned in enumerate(plan.chunks)
            ]
        )
        Job.objects.filter(pk=job.pk, finalize_started_at=started).update(
            chunks_total=F("chunks_total") + len(created), finalize_started_at=None
        )
        chunk_ids = list(
            Chunk.objects.filter(job_id=job.pk, pass_number=2).values_list("pk", flat=True)
        )
        transaction.on_commit(
            lambda: dispatch.enqueue_chunks(chunk_ids, queue=job_kind.queue), robust=True
        )
    events.job_changed(job_id=str(job.pk), owner_id=job.owner_id, force=True)
    return True


def _chunk_summaries(job_id: str) -> list[dict[str, Any]]:
    summaries = (
        Chunk.objects.filter(job_id=job_id, summary__isnull=False)
        .order_by("sequence")
        .values_list("summary", flat=True)
    )
    return [summary for summary in summaries if isinstance(summary, dict)]


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
        else:
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.CANCELLING, cancel_requested_at=now
            )
            _cancel_pending_chunks(str(job.pk))
        job_id, owner_id = str(job.pk), locked.owner_id
        transaction.on_commit(
            lambda: events.job_changed(job_id=job_id, owner_id=owner_id, force=True)
        )
    return Job.objects.get(pk=job.pk)


def _cancel_pending_chunks(job_id: str) -> int:
    """Close the chunks of a cancelling job that never started. The caller's
    transaction must hold the job row."""
    never_started = Chunk.objects.filter(job_id=job_id, status=ChunkStatus.PENDING).update(
        status=ChunkStatus.CANCELLED, finished_at=timezone.now()
    )
    _job_count_finished_chunks(job_id, chunks=never_started, succeeded=0, failed=0)
    return never_started


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
            )


def job_rerun_stalled_chunks(*, job: Job) -> int:
    """Send a job's stuck chunks to the workers again now, without waiting for
    the sweeper: running chunks whose lease expired, and pending chunks.
    Safe at any time: a chunk that is really running keeps its lease."""
    now = timezone.now()
    count = 0
    for chunk in Chunk.objects.filter(
        job=job, status=ChunkStatus.RUNNING, lease_expires_at__lt=now
    ).select_related("job"):
        if _chunk_recover(chunk=chunk, now=now) != "skipped":
            count += 1
    if job.status == JobStatus.RUNNING:
        pending = list(
            Chunk.objects.filter(job=job, status=ChunkStatus.PENDING).values_list("pk", flat=True)
        )
        Chunk.objects.filter(pk__in=pending).update(enqueued_at=now)
        dispatch.enqueue_chunks(pending, queue=registry.get(job.kind).queue)
        count += len(pending)
    return count


def jobs_purge(*, finished_before: datetime, batch: int = 100) -> int:
    """Delete finished jobs (with their chunks, item results, files and parts) that
    finished before the given time. Returns how many jobs were deleted.

    Item results go first in plain set-based deletes: a cascade through the
    ORM would load every row of a big job into memory.
    """
    deleted = 0
    while True:
        jobs = list(
            Job.objects.filter(status__in=JOB_FINISHED_STATUSES, finished_at__lt=finished_before)
            .order_by("finished_at")
            .only("pk", "input_file", "output_file")[:batch]
        )
        if not jobs:
            return deleted
        ids = [job.pk for job in jobs]
        attachment_files = list(
            JobAttachment.objects.filter(job_id__in=ids).values_list("file", flat=True)
        )
        with transaction.atomic():
            JobAttachment.objects.filter(job_id__in=ids).delete()
            ItemResult.objects.filter(job_id__in=ids).delete()
            Chunk.objects.filter(job_id__in=ids).delete()
            Job.objects.filter(pk__in=ids).delete()
        for job in jobs:
            for stored in (job.input_file, job.output_file):
                if stored:
                    stored.storage.delete(stored.name)
            # Parts left by a worker that died before the job's cleanup.
            parts_delete(str(job.pk))
        for name in attachment_files:
            JobAttachment.file.field.storage.delete(name)
        deleted += len(jobs)


@dataclass(slots=True)
class SweepReport:
    requeued_chunks: int = 0
    failed_chunks: int = 0
    cancelled_chunks: int = 0
    requeued_pending_chunks: int = 0
    replanned_jobs: int = 0
    refinalized_jobs: int = 0


def sweep_stalled_work(*, now: datetime | None = None, limit: int = 500) -> SweepReport:
    """Recover what crashes and lost messages left behind. Run periodically.

    - A running chunk whose lease expired lost its worker: run it again, or
      fail its items after ``BULKYARD_CHUNK_MAX_ATTEMPTS`` tries, or (if its job
      is being cancelled) close it as cancelled.
    - A pending chunk or a queued job whose message was never picked up is
      enqueued again.
    - A job whose chunks all finished but which never got its final status is
      finalized again.
    """
    now = now or timezone.now()
    report = SweepReport()
    expired = (
        Chunk.objects.filter(status=ChunkStatus.RUNNING, lease_expires_at__lt=now)
        .select_related("job")
        .order_by("lease_expires_at")[:limit]
    )
    for chunk in expired:
        try:
            outcome = _chunk_recover(chunk=chunk, now=now)
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

    stale = now - timedelta(seconds=settings.BULKYARD_PENDING_REQUEUE_SECONDS)
    for chunk in (
        Chunk.objects.filter(
            status=ChunkStatus.PENDING, enqueued_at__lt=stale, job__status=JobStatus.RUNNING
        )
        .select_related("job")
        .order_by("enqueued_at")[:limit]
    ):
        if Chunk.objects.filter(
            pk=chunk.pk, status=ChunkStatus.PENDING, enqueued_at=chunk.enqueued_at
        ).update(enqueued_at=now):
            dispatch.enqueue_chunks([chunk.pk], queue=registry.get(chunk.job.kind).queue)
            report.requeued_pending_chunks += 1

    for job_id, sent in Job.objects.filter(
        status=JobStatus.QUEUED, plan_enqueued_at__lt=stale
    ).values_list("pk", "plan_enqueued_at")[:limit]:
        if Job.objects.filter(pk=job_id, plan_enqueued_at=sent).update(plan_enqueued_at=now):
            dispatch.enqueue_plan(str(job_id))
            report.replanned_jobs += 1

    # A chunk released back to pending just as its job was cancelled would
    # never start (its job is not running) nor be closed: close it here.
    for job_id in (
        Job.objects.filter(status=JobStatus.CANCELLING, chunks__status=ChunkStatus.PENDING)
        .values_list("pk", flat=True)
        .distinct()[:limit]
    ):
        with transaction.atomic():
            Job.objects.select_for_update().filter(pk=job_id).first()
            report.cancelled_chunks += _cancel_pending_chunks(str(job_id))

    finalize_stuck = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    for job_id, started in Job.objects.filter(
        Q(finalize_started_at__isnull=True) | Q(finalize_started_at__lt=finalize_stuck),
        status__in=[JobStatus.RUNNING, JobStatus.CANCELLING],
        chunks_total__isnull=False,
        chunks_finished=F("chunks_total"),
    ).values_list("pk", "finalize_started_at")[:limit]:
        if started is not None:
            Job.objects.filter(pk=job_id, finalize_started_at=started).update(
                finalize_started_at=None
            )
        dispatch.enqueue_finalize(str(job_id))
        report.refinalized_jobs += 1
    return report


def _chunk_recover(*, chunk: Chunk, now: datetime) -> str:
    token = uuid.uuid4()
    taken = Chunk.objects.filter(
        pk=chunk.pk,
        status=ChunkStatus.RUNNING,
        lease_token=chunk.lease_token,
        lease_expires_at__lt=now,
    ).update(lease_token=token, lease_expires_at=_lease_expiry())
    if not taken:
        return "skipped"
    job_kind = registry.get(chunk.job.kind)
    try:
        if Job.objects.filter(pk=chunk.job_id, status=JobStatus.CANCELLING).exists():
            _chunk_close_cancelled(chunk=chunk, token=token)
            return "cancelled"
        if chunk.attempts >= settings.BULKYARD_CHUNK_MAX_ATTEMPTS:
            _chunk_fail_exhausted(chunk=chunk, token=token, reason="the worker running it was lost")
            return "failed"
    except LeaseLost:
        return "skipped"
    if Chunk.objects.filter(pk=chunk.pk, lease_token=token).update(
        status=ChunkStatus.PENDING, lease_token=None, lease_expires_at=None, enqueued_at=now
    ):
        logger.warning("chunk %s: lease expired, enqueued again", chunk.pk)
        dispatch.enqueue_chunks([chunk.pk], queue=job_kind.queue)
        return "requeued"
    return "skipped"
