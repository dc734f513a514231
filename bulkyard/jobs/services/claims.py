"""Claiming work from the database: the next chunk of a queue, the next job step.

A claim is one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` picks
the first claimable row that no other worker is claiming at this moment, and
an update hands out a lease on it (decision 0009). Workers never wait on each
other, and two claims never take the same row. The broker only says when to
claim (``dispatch``); what to claim is decided here, so the order work runs
in is a matter of ``ORDER BY``.

Chunks are claimed fairly (decision 0013, ``BULKYARD_SCHEDULING = "fair"``):
the owner with the fewest chunks running on the queue goes first, ties to the
owner whose last chunk started longest ago; within the owner, the job likewise;
within the job, the oldest claimable chunk. A small job of one user so waits
for one chunk of another user's big job, not for all of them. A job's
priority (decision 0014) orders it among its owner's jobs only: ``high``
before ``normal`` before ``low``, so it never overtakes another owner's turn.
``BULKYARD_SCHEDULING = "fifo"`` keeps the order of ``available_at``, within
each priority.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobPriority, JobStatus
from bulkyard.jobs.services.leases import Heartbeat, lease_expiry, new_token

Step = Literal["plan", "finish"]


@dataclass(frozen=True, slots=True)
class ClaimedChunk:
    chunk_id: int
    token: uuid.UUID


@dataclass(frozen=True, slots=True)
class ClaimedStep:
    job_id: str
    step: Step
    token: uuid.UUID
    # How many times this step has been claimed, this time included.
    attempts: int


def claimable_chunks(queue: str, *, now: datetime) -> QuerySet[Chunk]:
    """Pending chunks of running jobs, past their backoff, on ``queue``."""
    return Chunk.objects.filter(
        queue=queue,
        status=ChunkStatus.PENDING,
        available_at__lte=now,
        job__status=JobStatus.RUNNING,
    )


def chunk_claim_next(*, queue: str) -> ClaimedChunk | None:
    """Lease the next claimable chunk of ``queue``, or None: fairly across
    owners and their jobs, or the oldest first under ``fifo`` scheduling."""
    now = timezone.now()
    with transaction.atomic():
        if settings.BULKYARD_SCHEDULING == "fifo":
            chunks = claimable_chunks(queue, now=now)
            chunk_id = _next_chunk_id(chunks, first=_priority_rank("job__priority"))
        else:
            chunk_id = None
            # A job whose claimable chunks other workers are all claiming at
            # this moment gives nothing: the next job in the order is tried.
            for job_id in _jobs_in_fair_order(queue, now=now):
                chunk_id = _next_chunk_id(claimable_chunks(queue, now=now).filter(job_id=job_id))
                if chunk_id is not None:
                    break
        if chunk_id is None:
            return None
        return _chunk_lease(Chunk.objects.filter(pk=chunk_id), now=now, chunk_id=chunk_id)


def _next_chunk_id(chunks: QuerySet[Chunk], *, first: Case | None = None) -> int | None:
    order = ("available_at", "pk") if first is None else (first, "available_at", "pk")
    return (
        chunks.select_for_update(skip_locked=True, of=("self",))
        .order_by(*order)
        .values_list("pk", flat=True)
        .first()
    )


# high, normal, low: the order of JobPriority's members.
_PRIORITY_RANKS = {priority.value: rank for rank, priority in enumerate(JobPriority)}


def _priority_rank(field: str) -> Case:
    return Case(
        *(When(**{field: value}, then=Value(rank)) for value, rank in _PRIORITY_RANKS.items()),
        default=Value(len(_PRIORITY_RANKS)),
    )


# Running jobs with a claimable chunk on the queue, in the order their chunks
# are due: the owner with the fewest chunks running on the queue, then the
# owner whose latest chunk started longest ago (one with none started yet
# first); within the owner, the job of the higher priority, then the same two
# as for owners; then the older job. An owner's latest
# start is read from its jobs that still have work here: that is enough to
# alternate, and spares reading every finished job's chunks. Counts are of committed claims, so
# concurrent claimers may pick the same job: SKIP LOCKED gives them different
# chunks and the next claims even out. A priority would weigh the counts here.
# Running chunks are few (one per busy worker) and read through
# chunk_running_lease; each job's latest start is one probe of
# chunk_job_started, its claimable chunk one of chunk_job_claim.
_FAIR_ORDER_SQL = """
WITH candidates AS (
    SELECT j.id, j.owner_id, j.created_at,
        CASE j.priority {priority_ranks} ELSE {unknown_rank} END AS priority_rank,
        (SELECT max(s.started_at) FROM {chunk} s WHERE s.job_id = j.id) AS last_started
    FROM {job} j
    WHERE j.status = %(running)s AND EXISTS (
        SELECT 1 FROM {chunk} c
        WHERE c.job_id = j.id AND c.queue = %(queue)s AND c.status = %(pending)s
            AND c.available_at <= %(now)s
    )
),
running AS (
    SELECT r.job_id, rj.owner_id
    FROM {chunk} r JOIN {job} rj ON rj.id = r.job_id
    WHERE r.status = %(chunk_running)s AND r.queue = %(queue)s
)
SELECT id FROM candidates cand
ORDER BY
    (SELECT count(*) FROM running WHERE running.owner_id = cand.owner_id),
    max(cand.last_started) OVER (PARTITION BY cand.owner_id) NULLS FIRST,
    cand.priority_rank,
    (SELECT count(*) FROM running WHERE running.job_id = cand.id),
    cand.last_started NULLS FIRST,
    cand.created_at,
    cand.id
"""


def _jobs_in_fair_order(queue: str, *, now: datetime) -> list[uuid.UUID]:
    sql = _FAIR_ORDER_SQL.format(
        chunk=connection.ops.quote_name(Chunk._meta.db_table),
        job=connection.ops.quote_name(Job._meta.db_table),
        # Literals from JobPriority, not from a request.
        priority_ranks=" ".join(
            f"WHEN '{value}' THEN {rank}" for value, rank in _PRIORITY_RANKS.items()
        ),
        unknown_rank=len(_PRIORITY_RANKS),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "queue": queue,
                "now": connection.ops.adapt_datetimefield_value(now),
                "running": JobStatus.RUNNING.value,
                "pending": ChunkStatus.PENDING.value,
                "chunk_running": ChunkStatus.RUNNING.value,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def chunk_claim(*, chunk_id: int) -> ClaimedChunk | None:
    """Lease this chunk if it is pending and its job running (backoff or not):
    for an operator who runs it now, and for tests."""
    # The job test is a subquery on job ids, not a join: PostgreSQL re-checks
    # conditions on the updated row itself after waiting for a concurrent
    # writer, so two claims can never both win.
    return _chunk_lease(
        Chunk.objects.filter(
            pk=chunk_id,
            status=ChunkStatus.PENDING,
            job_id__in=Job.objects.filter(status=JobStatus.RUNNING).values("pk"),
        ),
        now=timezone.now(),
        chunk_id=chunk_id,
    )


def _chunk_lease(chunks: QuerySet[Chunk], *, now: datetime, chunk_id: int) -> ClaimedChunk | None:
    token = new_token()
    claimed = chunks.filter(status=ChunkStatus.PENDING).update(
        status=ChunkStatus.RUNNING,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=lease_expiry(),
        started_at=now,
    )
    return ClaimedChunk(chunk_id=chunk_id, token=token) if claimed else None


def _lease_free(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)


def _steps_due(*, now: datetime, step: Step | None = None) -> QuerySet[Job]:
    """Jobs that need a worker for their own step, and that no live lease holds:
    queued jobs to plan, jobs whose chunks are all finished to finish. A
    paused job is not planned; one whose chunks all finished is finished
    (nothing of its work is left to hold; decision 0016)."""
    to_plan = Q(status=JobStatus.QUEUED)
    to_finish = Q(
        status__in=[JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.PAUSED],
        chunks_total__isnull=False,
        chunks_finished=F("chunks_total"),
    )
    due = {"plan": to_plan, "finish": to_finish, None: to_plan | to_finish}[step]
    return Job.objects.filter(due).filter(_lease_free(now))


def steps_due_count(*, now: datetime, cap: int) -> int:
    return _steps_due(now=now)[:cap].count()


def job_step_claim_next() -> ClaimedStep | None:
    """Lease the step of the job that needs one first: the highest priority,
    then the oldest; or None."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            _steps_due(now=now)
            .select_for_update(skip_locked=True)
            .order_by(_priority_rank("priority"), "created_at")
            .values_list("pk", "status")
            .first()
        )
        if row is None:
            return None
        job_id, status = row
        return _step_lease(
            Job.objects.filter(pk=job_id), now=now, job_id=str(job_id), status=status
        )


def job_step_claim(*, job_id: str, step: Step) -> ClaimedStep | None:
    """Lease this job's step if it is the one due and no live lease holds it."""
    now = timezone.now()
    with transaction.atomic():
        jobs = _steps_due(now=now, step=step).filter(pk=job_id).select_for_update()
        status = jobs.values_list("status", flat=True).first()
        if status is None:
            return None
        return _step_lease(Job.objects.filter(pk=job_id), now=now, job_id=job_id, status=status)


def _step_lease(jobs: QuerySet[Job], *, now: datetime, job_id: str, status: str) -> ClaimedStep:
    token = new_token()
    step: Step = "plan" if status == JobStatus.QUEUED else "finish"
    jobs.update(
        lease_token=token,
        lease_expires_at=lease_expiry(),
        step_attempts=F("step_attempts") + 1,
        **({"finalize_started_at": now} if step == "finish" else {}),
    )
    attempts = jobs.values_list("step_attempts", flat=True).get()
    return ClaimedStep(job_id=job_id, step=step, token=token, attempts=attempts)


def step_heartbeat(claimed: ClaimedStep) -> Heartbeat:
    """Keeps a job step's lease while the step runs."""

    def renew() -> bool:
        return bool(
            Job.objects.filter(pk=claimed.job_id, lease_token=claimed.token).update(
                lease_expires_at=lease_expiry()
            )
        )

    return Heartbeat(name=f"{claimed.step}-{claimed.job_id}", renew=renew)


def step_lease_release(*, job_id: str, token: uuid.UUID, attempt_counts: bool = True) -> bool:
    """Give a step back unfinished, to be claimed again at once (an outage:
    ``attempt_counts=False``, the claim does not count as an attempt)."""
    changes: dict[str, object] = {"lease_token": None, "lease_expires_at": None}
    if not attempt_counts:
        changes["step_attempts"] = F("step_attempts") - 1
    return bool(Job.objects.filter(pk=job_id, lease_token=token).update(**changes))
