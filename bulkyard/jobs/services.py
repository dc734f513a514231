"""Jobs as users and operators act on them: create (validate, store, accept),
cancel, retry the failed items, hand stuck chunks to workers now, purge.

How a job then runs: ``planning`` cuts it into chunks, workers claim and run
them (``claims``, ``running``), ``finishing`` gives it its end, and the
``sweeper`` recovers what crashes and lost messages leave. Decisions 0001 and
0009 say why it is built so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError

from bulkyard.jobs import dispatch, events, registry
from bulkyard.jobs.inputs import READER_ERROR_CODES, reader_for
from bulkyard.jobs.kinds import CONTENT_OMITTED, CodedError, InputRejected, JobKind, NotAllowed
from bulkyard.jobs.models import (
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
from bulkyard.jobs.running import cancel_pending_chunks, chunk_recover

logger = logging.getLogger(__name__)


class JobConflict(CodedError):
    """The job is not in a state that allows the requested change."""


class IdempotencyKeyMismatch(Exception):
    """The Idempotency-Key was first used with a different request."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"the key was used for job {job.pk} with a different request")
        self.job = job


class JobNotAllowed(CodedError):
    """The owner may not run this job (a target they lack permissions on)."""


class InvalidJobRequest(CodedError):
    """The request names an unknown kind, bad params or an unusable input."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(code, message)
        self.details = details


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
    owner: User,
    kind: str,
    params: dict[str, Any] | None,
    job_input: JobInput | None,
    chunk_size: int | None,
) -> tuple[JobKind[Any], dict[str, Any], int, bool]:
    """The kind, the validated params, the chunk size and whether the input is
    gzip-compressed; raises ``InvalidJobRequest``, or ``JobNotAllowed`` when
    the owner may not touch the data the job would."""

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
    try:
        job_kind.check_allowed(parsed, user=owner)
    except NotAllowed as exc:
        raise JobNotAllowed(exc.code, exc.message) from None
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
    try:
        checked = reader_for(job_input.format).check_upload(job_input.file)
        if checked.header is not None:
            job_kind.check_columns(checked.header, parsed)
    except InputRejected as exc:
        raise InvalidJobRequest(exc.code, exc.message) from None
    return job_kind, parsed.model_dump(mode="json"), size, checked.compressed


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
    ``InvalidJobRequest`` for an unknown kind, bad params or an unusable input,
    ``JobNotAllowed`` when the owner may not touch the data the job would;
    nothing is stored then. ``job_input`` is None for kinds that take no input;
    ``attachments`` are files kept with the job for kinds that accept them.
    """
    job_kind, clean_params, size, compressed = _validate_request(
        owner=owner, kind=kind, params=params, job_input=job_input, chunk_size=chunk_size
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
        extension = reader_for(job_input.format).extension
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
            # robust: a broker outage must not turn an accepted job into a 500;
            # the sweeper wakes a worker for jobs whose wake-up never left.
            transaction.on_commit(dispatch.wake_step_worker, robust=True)
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
            cancel_pending_chunks(str(job.pk))
        job_id, owner_id = str(job.pk), locked.owner_id
        transaction.on_commit(
            lambda: events.job_changed(job_id=job_id, owner_id=owner_id, force=True)
        )
    return Job.objects.get(pk=job.pk)


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
