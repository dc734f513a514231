"""Retention: a finished job is kept for its ``retention_days``, then deleted
with everything it owns (decision 0018).

When a job finishes, its ``expires_at`` is set (``finished_fields``): its end
plus its ``retention_days``, or NULL to keep it forever. From that moment on
the job is gone for its owner (``selectors.not_expired``): the API, the pages
and the WebSocket streams answer as for a job that never existed, whether or
not the purge has reached it yet.

Beat runs ``jobs_purge`` every ``BULKYARD_RETENTION_INTERVAL_SECONDS``, for at
most ``BULKYARD_RETENTION_RUN_SECONDS``. It takes expired jobs, oldest expiry
first, ``JOBS_PER_BATCH`` at a time under the jobs' step lease (two purges
never work on the same job; a job whose retry still runs is left until the
retry ends), and for each batch:

1. deletes their files through the storage: inputs (and a gzip input's other
   form, should planning have stopped between writing one and deleting the
   other), outputs, attachments and part files;
2. deletes the rows they own, model by model, ``BULKYARD_RETENTION_BATCH_ROWS``
   at a time, each slice in its own short transaction: the models whose
   foreign key to ``Job`` cascades (chunks, item results, attachments, the
   completion callback, and the kinds' ledgers and scratch rows), found
   through the model's relations, so the engine names no kind;
3. deletes the job rows.

Files go first: a purge stopped anywhere (a crash, an outage, its time budget)
leaves the job row, which still names its files, so the next run finds the
job and finishes it; deleting a file that is already gone is no error. Nobody
is shown a row whose file is gone: the job expired before the purge began
(an operator's early purge, ``finished_before``, expires the jobs it takes).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, NamedTuple

from django.conf import settings
from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from bulkyard.core.outages import is_outage
from bulkyard.core.storage import storage_delete_prefix
from bulkyard.jobs.models import (
    JOB_ACTIVE_STATUSES,
    JOB_FINISHED_STATUSES,
    Job,
    JobAttachment,
    job_attachment_folder,
)
from bulkyard.jobs.parts import parts_delete
from bulkyard.jobs.services.leases import Heartbeat, lease_expiry, new_token

logger = logging.getLogger(__name__)

# Jobs taken by one claim: small jobs go a hundred to a statement, while a big
# job's rows still go BULKYARD_RETENTION_BATCH_ROWS at a time.
JOBS_PER_BATCH = 100


@dataclass(slots=True)
class PurgeReport:
    jobs: int = 0
    # Rows deleted per model (its label), the jobs' own rows included.
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    # False when the run stopped at its time budget with expired jobs left.
    complete: bool = True


def finished_fields(*, retention_days: int | None, now: datetime) -> dict[str, Any]:
    """What every update that ends a job writes besides its status: when it
    finished and when it expires (NULL: kept forever)."""
    expires = None if retention_days is None else now + timedelta(days=retention_days)
    return {"finished_at": now, "expires_at": expires}


def retention_days_for(*, requested: int | None) -> int | None:
    """The retention a new job gets: the one it asked for, or the server's
    default (NULL: kept forever). Raises ``ValueError`` with the allowed range
    for one outside it."""
    maximum = settings.BULKYARD_RETENTION_MAX_DAYS
    if requested is None:
        return settings.BULKYARD_RETENTION_DAYS or None
    if requested < 1 or (maximum and requested > maximum):
        allowed = f"between 1 and {maximum}" if maximum else "at least 1"
        raise ValueError(f"retention_days must be {allowed} (days), not {requested}")
    return int(requested)


def retry_retention_days(original: int | None) -> int | None:
    """What a retry of failed items asks for: the retention of the job it
    retries, within today's maximum (None, the server's default, for a job
    kept forever)."""
    maximum = settings.BULKYARD_RETENTION_MAX_DAYS
    if original is None or not maximum:
        return original
    return min(original, maximum)


def purge_skipped(error: Exception) -> dict[str, str]:
    """A purge met an outage: one line, not a traceback. What the run did is
    kept; the next run carries on from there."""
    logger.warning("retention: a service is unreachable (%s); purging next time", error)
    return {"skipped": str(error)}


def jobs_purge(
    *,
    finished_before: datetime | None = None,
    time_budget: float | None = None,
    batch: int = JOBS_PER_BATCH,
) -> PurgeReport:
    """Delete the expired jobs with everything they own (see the module).

    ``finished_before``: instead, every finished job that ended before then,
    whatever its expiry (an operator's purge). ``time_budget``: stop taking
    new work after this many seconds (the rows of one slice, the files of
    one job, run to their end); what is left waits for the next run.
    """
    deadline = None if time_budget is None else time.monotonic() + time_budget
    report = PurgeReport()
    # Jobs whose files could not be deleted: not taken again by this run, and
    # left leased, so that the next runs try them again only once it ran out.
    stuck: set[Any] = set()
    while True:
        if _past(deadline):
            report.complete = False
            return report
        token, jobs = _claim(finished_before=finished_before, batch=batch, skip=stuck)
        if not jobs:
            return report
        try:
            with Heartbeat(name="purge", renew=partial(_renew, token, jobs)):
                finished = _purge_batch(jobs, report, deadline, stuck)
        finally:
            # What a stopped batch did not delete may be taken again at once.
            Job.objects.filter(pk__in=[job.pk for job in jobs], lease_token=token).exclude(
                pk__in=stuck
            ).update(lease_token=None, lease_expires_at=None)
        if not finished:
            report.complete = False
            return report


def jobs_purge_preview(*, finished_before: datetime | None = None) -> PurgeReport:
    """What ``jobs_purge`` would delete now: jobs and rows (files are not
    looked at)."""
    jobs = Job.objects.filter(_purgeable(finished_before=finished_before, now=timezone.now()))
    report = PurgeReport(jobs=jobs.count())
    if report.jobs:
        for model, fk, _ in _owned_models():
            count = model._default_manager.filter(**{f"{fk}__in": jobs.values("pk")}).count()
            if count:
                report.rows[model._meta.label] = count
        report.rows[Job._meta.label] = report.jobs
    return report


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _purgeable(*, finished_before: datetime | None, now: datetime) -> Q:
    # A job whose retry still runs stays: the retry's chunks look its first
    # job up (ChunkContext.root_job_id: a webhook's message ids).
    retry_running = Exists(
        Job.objects.filter(retry_of=OuterRef("pk"), status__in=JOB_ACTIVE_STATUSES)
    )
    ended = Q(finished_at__lt=finished_before) if finished_before else Q(expires_at__lte=now)
    return Q(ended, ~retry_running, status__in=JOB_FINISHED_STATUSES)


def _claim(
    *, finished_before: datetime | None, batch: int, skip: set[Any]
) -> tuple[uuid.UUID, list[Job]]:
    """Take the next jobs to purge (but those in ``skip``) under a lease
    nobody else holds."""
    now, token = timezone.now(), new_token()
    with transaction.atomic():
        jobs = list(
            Job.objects.filter(_purgeable(finished_before=finished_before, now=now))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .exclude(pk__in=skip)
            .order_by("finished_at" if finished_before else "expires_at")
            .select_for_update(skip_locked=True)
            .only("pk", "kind", "owner_id", "input_file", "output_file", "finished_at")[:batch]
        )
        ids = [job.pk for job in jobs]
        if ids:
            claimed = Job.objects.filter(pk__in=ids)
            claimed.update(lease_token=token, lease_expires_at=lease_expiry())
            # An early purge expires its jobs first, so that their owners see
            # them gone before any of their files is.
            claimed.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(
                expires_at=now
            )
    return token, jobs


def _renew(token: uuid.UUID, jobs: list[Job]) -> bool:
    held = Job.objects.filter(pk__in=[job.pk for job in jobs], lease_token=token)
    return bool(held.update(lease_expires_at=lease_expiry()))


def _purge_batch(
    jobs: list[Job], report: PurgeReport, deadline: float | None, stuck: set[Any]
) -> bool:
    """Delete these jobs: files, owned rows, job rows. False if the time budget
    ran out first (what is left is found again by the next run). Jobs whose
    files could not be deleted are added to ``stuck`` and left as they are."""
    ready = []
    files = size = 0
    attachments: dict[Any, list[str]] = {}
    for job_id, name in JobAttachment.objects.filter(job__in=jobs).values_list("job_id", "file"):
        attachments.setdefault(job_id, []).append(name)
    for job in jobs:
        if _past(deadline):
            return False
        try:
            job_files, job_bytes = _job_files_delete(job, attachments.get(job.pk, []))
        except Exception as exc:
            if is_outage(exc):
                raise
            # The job keeps its row: a later run tries again, once the lease
            # this run holds on it has run out.
            logger.exception("retention: could not delete the files of job %s", job.pk)
            stuck.add(job.pk)
            continue
        files, size = files + job_files, size + job_bytes
        ready.append(job)
    report.files, report.bytes = report.files + files, report.bytes + size
    ids = [job.pk for job in ready]
    rows: Counter[str] = Counter()
    for owned in _owned_models() if ids else ():
        for deleted in _row_slices(owned, ids, settings.BULKYARD_RETENTION_BATCH_ROWS):
            rows[owned.model._meta.label] += deleted
            if _past(deadline):
                _add_rows(report, rows)
                return False
    if ids:
        # Everything the jobs owned is gone; what is left for the collector
        # is setting their retries' retry_of to NULL.
        _, deleted_jobs = Job.objects.filter(pk__in=ids).delete()
        rows.update(deleted_jobs)
        report.jobs += deleted_jobs.get(Job._meta.label, 0)
        for job in ready:
            logger.debug(
                "retention: deleted job %s (%s of user %s, finished %s)",
                job.pk,
                job.kind,
                job.owner_id,
                job.finished_at,
            )
        logger.info(
            "retention: deleted jobs=%s rows=%s files=%s bytes=%s (%s)",
            len(ready),
            sum(rows.values()),
            files,
            size,
            ", ".join(f"{label}={count}" for label, count in sorted(rows.items()) if count),
            extra={
                "retention": {
                    "jobs": [str(job_id) for job_id in ids],
                    "rows": dict(rows),
                    "files": files,
                    "bytes": size,
                }
            },
        )
    _add_rows(report, rows)
    return True


def _add_rows(report: PurgeReport, rows: Counter[str]) -> None:
    for label, count in rows.items():
        if count:
            report.rows[label] = report.rows.get(label, 0) + count


class Owned(NamedTuple):
    """A model whose rows a job owns: its foreign key to the job, and the
    field that makes a row unique within its job (None if none does)."""

    model: type[models.Model]
    fk: str
    key: str | None


def _row_slices(owned: Owned, job_ids: list[Any], size: int) -> Iterator[int]:
    """Delete the jobs' rows of one model, at most ``size`` per statement, each
    in its own short transaction (autocommit); yields how many each deleted.

    Rows of a few small jobs go in one statement. A big job's go in ranges of
    its key, along the index of (job, key) its uniqueness gives it: each range
    starts where the last ended, so no statement walks over the rows the
    earlier ones deleted (deleting by "the first N rows" did, and planned a
    scan of the table to match them: 66 ms a slice against 24, decision 0018).
    """
    manager = owned.model._default_manager
    rows = manager.filter(**{f"{owned.fk}__in": job_ids})
    if owned.key is None:
        while True:
            deleted = _delete_rows(manager.filter(pk__in=Subquery(rows.values("pk")[:size])))
            yield deleted
            if deleted < size:
                return
    if not list(rows.values_list("pk", flat=True)[size : size + 1]):
        yield _delete_rows(rows)
        return
    for job_id in job_ids:
        after = None
        while True:
            left = manager.filter(**{owned.fk: job_id})
            if after is not None:
                left = left.filter(**{f"{owned.key}__gt": after})
            keys = left.order_by(owned.key).values_list(owned.key, flat=True)
            bound = list(keys[size - 1 : size])
            if not bound:
                yield _delete_rows(left)
                break
            yield _delete_rows(left.filter(**{f"{owned.key}__lte": bound[0]}))
            after = bound[0]


def _delete_rows(rows: QuerySet[Any]) -> int:
    """One DELETE (for models with rows of their own that cascade, the
    collector's few); how many rows of the model went."""
    _, by_model = rows.delete()
    return by_model.get(rows.model._meta.label, 0)


@cache
def _owned_models() -> list[Owned]:
    """Each model whose rows a job owns (a foreign key to ``Job`` that
    cascades), in an order that deletes a model's rows before those of the
    owned models they refer to (item results before chunks)."""
    owned: dict[Any, str] = {
        relation.related_model: relation.field.name
        for relation in Job._meta.related_objects
        if relation.on_delete is models.CASCADE and relation.related_model is not Job
    }

    def refers_to(model: Any) -> set[Any]:
        return {f.related_model for f in model._meta.concrete_fields if f.is_relation} & set(owned)

    ordered: list[Any] = []
    remaining = sorted(owned, key=lambda m: m._meta.label)
    while remaining:
        # First the models no other remaining model refers to.
        free = [m for m in remaining if not any(m in refers_to(o) for o in remaining if o is not m)]
        take = free or remaining[:1]  # a cycle: the collector copes
        ordered += take
        remaining = [m for m in remaining if m not in take]
    return [Owned(model, owned[model], _key_within_job(model, owned[model])) for model in ordered]


def _key_within_job(model: Any, fk: str) -> str | None:
    """The field that, with the job's, makes a row unique (a unique
    constraint or primary key on exactly the two): the order a big job's rows
    are deleted in, along that pair's index."""
    pairs = [
        tuple(constraint.fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is None
    ]
    pairs.append(tuple(getattr(model._meta.pk, "field_names", ())))  # a composite key
    for pair in pairs:
        if len(pair) == 2 and pair[0] == fk:
            return str(pair[1])
    return None


def _job_files_delete(job: Job, attachments: list[str]) -> tuple[int, int]:
    """Delete a job's stored files (its attachments' named); how many there
    were, and their bytes."""
    found: list[int | None] = []
    input_name = job.input_file.name or ""
    if input_name:
        storage = Job.input_file.field.storage
        found.append(_stored_delete(storage, input_name))
        # A gzip input and its decompressed form: planning writes one, then
        # deletes the other, and may have stopped in between.
        other = input_name.removesuffix(".gz") if input_name.endswith(".gz") else f"{input_name}.gz"
        found.append(_stored_delete(storage, other))
    if job.output_file.name:
        found.append(_stored_delete(Job.output_file.field.storage, job.output_file.name))
    # The job's attachments folder whole, a file its row was never saved for
    # too: on S3 one listing and one request per thousand files.
    storage = JobAttachment.file.field.storage
    folder = job_attachment_folder(job)
    attached = storage_delete_prefix(storage=storage, prefix=folder)
    found += [_stored_delete(storage, name) for name in attachments if not name.startswith(folder)]
    parts, parts_bytes = parts_delete(str(job.pk))
    present = [size for size in found if size is not None]
    return (
        len(present) + attached.files + parts,
        sum(present) + attached.bytes + parts_bytes,
    )


def _stored_delete(storage: Storage, name: str) -> int | None:
    """Delete a stored file; its size if it was there, None if it was not.
    One size request stands for an existence check too (two requests on S3)."""
    try:
        size = storage.size(name)
    except FileNotFoundError:
        return None
    storage.delete(name)
    return size
