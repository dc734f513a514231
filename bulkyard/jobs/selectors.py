"""Read-side queries of the engine."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bulkyard.core.secrets import mask_secrets
from bulkyard.jobs import registry
from bulkyard.jobs.inputs import READER_ERROR_CODES, Remainder, Span
from bulkyard.jobs.kinds import CONTENT_OMITTED, AttachedFile, CodedError
from bulkyard.jobs.models import (
    CallbackDelivery,
    Chunk,
    ChunkStatus,
    ItemOutcome,
    ItemResult,
    Job,
    JobAttachment,
    JobStatus,
)


def not_expired(now: datetime | None = None) -> Q:
    """Jobs their owners still see: an expired job is gone for its owner as
    soon as its ``expires_at`` passes, whether or not the purge has deleted it
    yet, so nobody is shown results or files the purge is deleting."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now())


def job_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Job]:
    """The user's own jobs, newest first, each with its callback (one join,
    not a query per job)."""
    return (
        Job.objects.filter(not_expired(), owner_id=user.pk)
        .select_related("callback")
        .order_by("-created_at")
    )


def job_get(*, user: AbstractBaseUser | AnonymousUser, job_id: str | UUID) -> Job:
    """One of the user's jobs. Another user's job, or an expired one, is
    indistinguishable from a missing one (404, not 403), so ids cannot be probed.

    The status read, polled by every client following a job: written as SQL,
    as Django compiles a queryset anew on each call (more CPU than the rest
    of the view). The job comes whole, its fields converted as the
    ORM does.
    """
    if user.pk is None:
        raise Http404("No job with this id.")
    pk = Job._meta.pk.get_db_prep_value(job_id, connection)
    jobs = list(Job.objects.raw(_job_of_owner_sql(), [pk, user.pk, timezone.now()]))
    if not jobs:
        raise Http404("No job with this id.")
    return jobs[0]


@cache
def _job_of_owner_sql() -> str:
    # Names from the model, quoted; the values are parameters.
    quote = connection.ops.quote_name
    pk, owner = Job._meta.pk.column, Job._meta.get_field("owner").column
    expires = quote(Job._meta.get_field("expires_at").column)
    return (
        f"SELECT * FROM {quote(Job._meta.db_table)} "  # noqa: S608
        f"WHERE {quote(pk)} = %s AND {quote(owner)} = %s "
        f"AND ({expires} IS NULL OR {expires} > %s)"
    )


def job_callback(job: Job) -> CallbackDelivery | None:
    """The job's completion callback, if it was given one: loaded with the job
    where the query joined it (``select_related("callback")``), else read."""
    try:
        return job.callback
    except CallbackDelivery.DoesNotExist:
        return None


def item_results(*, job: Job, outcome: str | None) -> QuerySet[ItemResult]:
    results = ItemResult.objects.filter(job=job).order_by("item_number")
    if outcome:
        results = results.filter(outcome=outcome)
    return results


def job_failure_counts(*, job: Job) -> dict[str, int]:
    """The job's stored failures by code, the commonest first (one grouped
    query on the ``item_job_outcome`` index)."""
    rows = (
        ItemResult.objects.filter(job=job, outcome=ItemOutcome.FAILED)
        .values("code")
        .annotate(count=Count("pk"))
        .order_by("-count", "code")
        .values_list("code", "count")
    )
    return dict(rows)


def not_retried_codes(*, kind: str) -> frozenset[str]:
    """Failure codes "retry failed items" leaves out for a kind: the reader's
    (the same bytes would fail the same way) and those the kind lists (trying
    again could not help, or would do harm). Raises ``registry.UnknownKind``."""
    return READER_ERROR_CODES | registry.get(kind).not_retried_codes


def job_retryable_failures(*, job: Job) -> QuerySet[ItemResult]:
    """The failed items a retry of the job would take again, in item order:
    the single definition both the retry and the page's retry button read."""
    return (
        ItemResult.objects.filter(job=job, outcome=ItemOutcome.FAILED, input__isnull=False)
        .exclude(code__in=not_retried_codes(kind=job.kind))
        # Files from a ZIP that failed before becoming data keep no content.
        .exclude(input__has_key=CONTENT_OMITTED)
        .order_by("item_number")
    )


def job_can_retry(*, job: Job) -> bool:
    """Whether "retry failed items" would find something: the job finished,
    read an input, and has a failure a retry takes (a kind no longer
    installed cannot be retried)."""
    if not job.is_finished or not job.input_file or not job.failed_items:
        return False
    try:
        return job_retryable_failures(job=job).exists()
    except registry.UnknownKind:
        return False


def job_retries(*, job: Job) -> QuerySet[Job]:
    """The "retry failed items" jobs made of this one that its owner still
    sees, oldest first."""
    return Job.objects.filter(not_expired(), retry_of=job, owner_id=job.owner_id).order_by(
        "created_at"
    )


_SPAN_FIELDS = ("byte_start", "byte_end", "start_line", "first_item_number", "item_count")


class UnprocessedUnavailable(CodedError):
    """A job whose items that never ran cannot be given (yet)."""


def job_unprocessed_count(job: Job) -> int | None:
    """How many items of a finished job never ran: those of the chunks a
    cancel closed, and those a stopped chunk left. None while the job is
    active, and when its input was never read into items (a job cancelled
    while queued, or failed at planning)."""
    if not job.is_finished or job.total_items is None:
        return None
    return max(job.total_items - job.processed_items, 0)


def job_has_unprocessed(job: Job) -> bool:
    """Whether a finished job has items that never ran to download: some, or
    an input never read into items (all of it)."""
    if not job.is_finished or not job.input_file:
        return False
    return job_unprocessed_count(job) != 0


def job_unprocessed(*, job: Job) -> list[Remainder] | None:
    """Where a finished job's items that never ran are in its input: a
    ``Remainder`` per chunk a cancel closed or stopped part-way, in input
    order (none when every item ran); None when no item of the input ran
    because it was never planned (the whole input is left)."""
    if not job.is_finished:
        raise UnprocessedUnavailable(
            "job_not_finished",
            f"the job is {job.status}: which items never ran is known once it has finished "
            "(cancel it to stop it now)",
        )
    if not job.input_file:
        raise UnprocessedUnavailable(
            "no_input",
            f"{job.kind} jobs find their own items: there is no input to return; "
            "create the job again instead",
        )
    if job.chunks_total is None:
        return None
    remainders = []
    # Only a cancel leaves items: done and failed chunks ran each of theirs.
    stopped = (
        Chunk.objects.filter(job=job, pass_number=1, status=ChunkStatus.CANCELLED)
        .order_by("sequence")
        .only(*_SPAN_FIELDS, "sequence", "processed_items", "processed_ranges")
    )
    for chunk in stopped.iterator(chunk_size=2000):
        span = Span(
            chunk.byte_start,
            chunk.byte_end,
            chunk.start_line,
            chunk.first_item_number,
            chunk.item_count,
        )
        done, processed = chunk.processed_ranges, chunk.processed_items
        if not processed:
            remainders.append(Remainder(span))
        elif processed < chunk.item_count:
            if done is None or sum(last - first + 1 for first, last in done) != processed:
                # Stopped before the engine recorded which items ran, or by a
                # kind that counted some without naming them.
                raise UnprocessedUnavailable(
                    "unprocessed_unknown",
                    f"chunk {chunk.sequence} (items from {chunk.first_item_number}) was "
                    "stopped part-way without a record of which of its items ran",
                )
            remainders.append(Remainder(span, done=done))
    return remainders


@dataclass(frozen=True, slots=True)
class Progress:
    percent: float | None
    items_per_second: float | None
    eta_seconds: float | None
    duration_seconds: float | None


def job_progress(job: Job, *, now: datetime | None = None) -> Progress:
    """Percent done, throughput and a linear estimate of the time left.

    Time spent paused counts in none of them: the duration is the time the
    job has been running, and a paused job has no estimate (nothing moves).
    """
    now = now or timezone.now()
    total = job.total_items
    percent = None
    if total:
        percent = round(100.0 * job.processed_items / total, 2)
    elif total == 0:
        percent = 100.0
    if job.started_at is None:
        return Progress(percent, None, None, None)
    end = job.finished_at or now
    paused = job.time_paused + (end - job.paused_at if job.paused_at else timedelta())
    elapsed = max((end - job.started_at - paused).total_seconds(), 0.0)
    rate = job.processed_items / elapsed if elapsed > 0 and job.processed_items else None
    eta = None
    if job.status != JobStatus.PAUSED and not job.is_finished and rate and total is not None:
        eta = round(max(total - job.processed_items, 0) / rate, 1)
    return Progress(
        percent=percent,
        items_per_second=round(rate, 2) if rate else None,
        eta_seconds=eta,
        duration_seconds=round(elapsed, 3),
    )


@dataclass(frozen=True, slots=True)
class JobControls:
    """Which controls apply to a job now (the admin page's buttons)."""

    pause: bool
    resume: bool
    cancel: bool
    retry: bool


def job_controls(*, job: Job) -> JobControls:
    """What an operator can do to the job in its current state; the services
    refuse the rest (a race between two operators ends in their conflict)."""
    return JobControls(
        pause=job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
        resume=job.status == JobStatus.PAUSED,
        cancel=not job.is_finished and job.status != JobStatus.CANCELLING,
        retry=job_can_retry(job=job),
    )


def job_paused_seconds(job: Job, *, now: datetime | None = None) -> float | None:
    """How long the job has been paused, while it is; None otherwise."""
    if job.paused_at is None:
        return None
    return round(max(((now or timezone.now()) - job.paused_at).total_seconds(), 0.0), 3)


def masked_params(job: Job) -> dict[str, Any]:
    """A job's params as anyone but its API owner may see them: secret-looking
    names and the kind's ``secret_params`` masked."""
    try:
        extra = registry.get(job.kind).secret_params
    except registry.UnknownKind:
        extra = ()
    masked = mask_secrets(job.params, extra_names=extra)
    return masked if isinstance(masked, dict) else {}


def job_root_id(job_id: str) -> str:
    """The first job of a chain of "retry failed items" jobs."""
    current = job_id
    for _ in range(1000):  # a chain, never a cycle; bounded all the same
        parent = Job.objects.filter(pk=current).values_list("retry_of_id", flat=True).first()
        if parent is None:
            return str(current)
        current = str(parent)
    return str(current)


def job_attachments_read(job_id: str) -> list[AttachedFile]:
    """The files sent with a job, with their content, in the order they were sent."""
    files = []
    for stored in JobAttachment.objects.filter(job_id=job_id).order_by("pk"):
        with stored.file.open("rb") as source:
            content = source.read()
        files.append(AttachedFile(stored.name, stored.content_type, content))
    return files


def kinds_described(*, user: Any) -> list[dict[str, Any]]:
    """Every kind as a new-job form needs it: its params' JSON Schema and an
    example, which inputs it reads, whether it offers a dry-run preview, and,
    for a kind whose input columns depend on a param (an import's target),
    the columns per value of that param among those ``user`` may use."""
    described = []
    for kind in registry.all_kinds():
        formats = list(kind.input_formats)
        line_formats = [f for f in formats if f != "zip"]
        described.append(
            {
                "name": kind.name,
                "title": kind.title or kind.name,
                "description": kind.description,
                "params_schema": kind.params_model.model_json_schema(),
                "example_params": kind.example_params,
                "example_item": kind.example_item,
                "input_formats": formats,
                "reads_input": kind.reads_input,
                "accepts_zip": "zip" in formats,
                # CSV and JSON Lines may come gzip-compressed; a ZIP never does.
                "accepts_gzip": bool(line_formats),
                "accepts_attachments": kind.accepts_attachments,
                "offers_preview": kind.offers_preview,
                "columns_param": kind.columns_param or None,
                "input_columns": kind.input_columns(user=user) if kind.columns_param else {},
            }
        )
    return described
