"""Creating a job: validate the request, store its input, accept it.

A job is accepted only whole: the kind exists, its params validate, its owner
may touch the data it would, its input passes the cheap checks of its
format's reader (``inputs.reader_for``), and its completion callback, if any,
may be called (``callbacks``). Then, in one transaction, its owner's quotas
are checked under a lock on the owner (``quotas``), its files written to
storage and the job row and its callback inserted; on commit a worker of the
control queue is woken to plan it (``planning``). An ``Idempotency-Key`` makes
a repeated request answer with the job the first one created.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from pydantic import ValidationError

from bulkyard.core import metrics
from bulkyard.core.storage import storage_copy
from bulkyard.jobs import dispatch, registry
from bulkyard.jobs.inputs import reader_for
from bulkyard.jobs.kinds import (
    CodedError,
    InputRejected,
    JobKind,
    NotAllowed,
    SubmissionWarning,
)
from bulkyard.jobs.models import (
    HIGH_PRIORITY_PERMISSION,
    CallbackDelivery,
    InputFormat,
    Job,
    JobAttachment,
    JobPriority,
)
from bulkyard.jobs.services.callbacks import CallbackRequest, InvalidCallback, callback_checked
from bulkyard.jobs.services.quotas import QuotaRequest, quota_check_submission
from bulkyard.jobs.services.retention import retention_days_for


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
    """An input on local disk, in memory or in the storage, with its content
    hash. ``stored_name``: its name in the storage when it is there already (a
    kept upload): the job's copy is then made inside the storage (server-side
    on S3), and ``file`` is only read for the checks."""

    file: File[Any]
    format: str
    name: str
    sha256: str
    size: int
    stored_name: str = ""


@dataclass(frozen=True, slots=True)
class AttachmentInput:
    """A file sent with a job besides its input (see ``JobKind.accepts_attachments``);
    ``stored_name`` as for ``JobInput`` (a retried job's attachment)."""

    file: File[Any]
    name: str
    content_type: str
    sha256: str
    size: int
    stored_name: str = ""


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


def _check_priority(owner: User, priority: str) -> None:
    if priority not in JobPriority.values:
        raise InvalidJobRequest(
            "invalid_priority", f"priority must be one of {', '.join(JobPriority.values)}"
        )
    if priority == JobPriority.HIGH and not owner.has_perm(HIGH_PRIORITY_PERMISSION):
        raise JobNotAllowed(
            "priority_not_allowed",
            "you may not submit jobs with high priority; ask an administrator for the "
            "'Can submit jobs with high priority' permission",
        )


def _callback_fingerprint(callback: CallbackRequest) -> list[str]:
    # The secret counts (another secret is another request) but is not kept.
    return [callback.url, hashlib.sha256(callback.secret.encode()).hexdigest()]


def _fingerprint(**parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _param_path(location: tuple[int | str, ...]) -> str:
    """``("recipients", "target")`` -> ``"params.recipients.target"``; a rule
    on the params as a whole has no location: ``"params"``."""
    return ".".join(["params", *(str(part) for part in location)])


# What pydantic puts before the message a validator raised: noise to a user.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _readable(error: Mapping[str, Any], job_kind: JobKind[Any]) -> str:
    """pydantic's message, told as a person would: an unknown parameter names
    the ones the kind takes; a missing one says it is required."""
    if error["type"] == "extra_forbidden":
        if len(error["loc"]) == 1:
            known = ", ".join(job_kind.params_model.model_fields)
            return f"unknown parameter; {job_kind.name} takes: {known}"
        return "unknown parameter"
    if error["type"] == "missing":
        return "required"
    message = str(error["msg"])
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def validate_request(
    *,
    owner: User,
    kind: str,
    params: dict[str, Any] | None,
    job_input: JobInput | None,
    chunk_size: int | None,
) -> tuple[JobKind[Any], dict[str, Any], int, bool]:
    """The kind, the validated params, the chunk size and whether the input is
    gzip-compressed (what ``job_create`` and ``job_preview`` check first);
    raises ``InvalidJobRequest``, or ``JobNotAllowed`` when the owner may not
    touch the data the job would."""

    try:
        job_kind = registry.get(kind)
    except registry.UnknownKind:
        known = ", ".join(k.name for k in registry.all_kinds())
        raise InvalidJobRequest("unknown_kind", f"unknown kind {kind!r}; known: {known}") from None
    try:
        parsed = job_kind.parse_params(params)
    except ValidationError as exc:
        errors = exc.errors()
        details = [
            # The field within params, as the kind's schema names it.
            {
                "field": ".".join(str(p) for p in err["loc"]) or "params",
                "message": _readable(err, job_kind),
            }
            for err in errors
        ]
        raise InvalidJobRequest(
            "invalid_params", f"{_param_path(errors[0]['loc'])}: {details[0]['message']}", details
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
    priority: str = JobPriority.NORMAL,
    callback: CallbackRequest | None = None,
    item_count: int | None = None,
    retention_days: int | None = None,
) -> tuple[Job, bool]:
    """Validate and store a new job, and enqueue its planning after commit.

    Returns ``(job, created)``. With an ``idempotency_key`` already used by this
    owner for the same request, returns the first job and ``created=False``; for
    a different request, raises ``IdempotencyKeyMismatch``. Raises
    ``InvalidJobRequest`` for an unknown kind, bad params, an unusable input or
    a callback the outbound rules refuse, ``JobNotAllowed`` when the owner may
    not touch the data the job would; nothing is stored then; ``QuotaExceeded``
    when the job would take its owner past a quota, before anything is stored.
    ``job_input`` is None for kinds that take no input; ``attachments`` are
    files kept with the job for kinds that accept them; ``priority`` orders the
    job among its owner's (``high`` needs a permission); ``callback`` is POSTed
    the job's JSON when it ends (``services.callbacks``); ``item_count`` is the
    number of items when the caller knows it (inline items, a retry's), for the
    daily item quota; ``retention_days``, how long it is kept once finished
    (the server's default if None; ``invalid_retention_days`` outside what the
    server allows).
    """
    job_kind, clean_params, size, compressed = validate_request(
        owner=owner, kind=kind, params=params, job_input=job_input, chunk_size=chunk_size
    )
    _check_priority(owner, priority)
    _validate_attachments(job_kind, attachments)
    if callback is not None:
        try:
            callback = callback_checked(callback=callback)
        except InvalidCallback as exc:
            details = [{"field": exc.where, "message": exc.reason}]
            raise InvalidJobRequest(exc.code, exc.message, details) from None
    try:
        kept_days = retention_days_for(requested=retention_days)
    except ValueError as exc:
        raise InvalidJobRequest("invalid_retention_days", str(exc)) from None
    fingerprint = _fingerprint(
        kind=kind,
        params=clean_params,
        chunk_size=chunk_size,
        format=job_input.format if job_input else None,
        input=job_input.sha256 if job_input else None,
        retry_of=str(retry_of.pk) if retry_of else None,
        attachments=[(a.name, a.sha256) for a in attachments],
        # Absent for normal: keys used before priorities existed still match.
        **({"priority": priority} if priority != JobPriority.NORMAL else {}),
        # Likewise absent without a callback; its secret only as a hash.
        **({"callback": _callback_fingerprint(callback)} if callback is not None else {}),
        # Only when asked for: the keys of requests from before it existed
        # keep their fingerprints.
        **({"retention_days": retention_days} if retention_days is not None else {}),
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
        submitted_items=item_count,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
        retry_of=retry_of,
        priority=priority,
        retention_days=kept_days,
    )
    stored_attachments = [
        JobAttachment(
            job=job,
            name=attachment.name,
            content_type=attachment.content_type[:255],
            size=attachment.size,
            sha256=attachment.sha256,
        )
        for attachment in attachments
    ]
    try:
        with transaction.atomic():
            quota_check_submission(
                owner=owner, request=_quota_request(job_input, attachments, item_count)
            )
            if idempotency_key:
                # A request with the same key may have been stored while this
                # one waited for the owner's lock.
                existing = _job_for_key(owner, idempotency_key, fingerprint)
                if existing is not None:
                    return existing, False
            pairs = zip(stored_attachments, attachments, strict=True)
            _store_files(job, job_input, compressed, pairs)
            job.save(force_insert=True)
            JobAttachment.objects.bulk_create(stored_attachments)
            if callback is not None:
                CallbackDelivery.objects.create(job=job, url=callback.url, secret=callback.secret)
            # robust: a broker outage must not turn an accepted job into a 500;
            # the sweeper wakes a worker for jobs whose wake-up never left.
            transaction.on_commit(dispatch.wake_step_worker, robust=True)
            transaction.on_commit(lambda: metrics.JOBS_CREATED.labels(job.kind).inc())
    except IntegrityError:
        _delete_files(job, stored_attachments)
        if not idempotency_key:
            raise
        # Another request with the same key won the race; answer as it did.
        existing = _job_for_key(owner, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        _delete_files(job, stored_attachments)
        raise
    return job, True


def job_submission_warnings(*, job: Job) -> list[SubmissionWarning]:
    """What the submitter of ``job`` (new, replayed or a retry) should know,
    as its kind says: the job is accepted whatever they say. A kind since
    removed, or params it no longer takes, warn of nothing."""
    try:
        job_kind = registry.get(job.kind)
        params = job_kind.parse_params(job.params)
    except (registry.UnknownKind, ValidationError):
        return []
    return job_kind.submission_warnings(params)


def _quota_request(
    job_input: JobInput | None, attachments: Sequence[AttachmentInput], item_count: int | None
) -> QuotaRequest:
    """What the job adds to its owner's quotas. A retry uploads nothing: the
    server made its input and copied its attachments."""
    if job_input is not None and job_input.format == InputFormat.RETRY:
        uploaded = 0
    else:
        uploaded = (job_input.size if job_input else 0) + sum(a.size for a in attachments)
    return QuotaRequest(items=item_count, upload_bytes=uploaded)


def _store_files(
    job: Job,
    job_input: JobInput | None,
    compressed: bool,
    attachments: Iterable[tuple[JobAttachment, AttachmentInput]],
) -> None:
    if job_input is not None:
        extension = reader_for(job_input.format).extension
        if compressed:
            job.input_compression, extension = "gzip", f"{extension}.gz"
        _store(job.input_file, f"{job.pk}.{extension}", job_input.file, job_input.stored_name)
    for stored, attachment in attachments:
        _store(stored.file, attachment.name, attachment.file, attachment.stored_name)


def _store(field: FieldFile, name: str, content: File[Any], stored_name: str) -> None:
    """Store ``content`` as ``field``'s file; one already in the storage
    (``stored_name``) is copied inside it, no byte through this process on S3."""
    if not stored_name:
        field.save(name, content, save=False)
        return
    storage = field.storage
    target = storage.get_available_name(
        field.field.generate_filename(field.instance, name), max_length=field.field.max_length
    )
    storage_copy(storage=storage, source=stored_name, target=target)
    field.name = target


def _delete_files(job: Job, attachments: Sequence[JobAttachment]) -> None:
    """Delete what ``_store_files`` wrote of a job that was not stored."""
    if job.input_file:
        job.input_file.delete(save=False)
    for stored in attachments:
        if stored.file:
            stored.file.delete(save=False)


def _job_for_key(owner: User, key: str, fingerprint: str) -> Job | None:
    existing = Job.objects.filter(owner=owner, idempotency_key=key).first()
    if existing is not None and existing.expires_at and existing.expires_at <= timezone.now():
        # An expired job is gone for its owner, and its key with it: the
        # request makes a new job, as it will once the purge has run.
        Job.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyMismatch(existing)
    return existing
