"""Jobs of the test kind made and moved through the engine in-process (no
worker, no broker), for the engine's unit tests."""

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import registry, services
from bulkyard.jobs.kinds import ChunkResult, ItemResultData
from bulkyard.jobs.models import Chunk, ChunkStatus, Job
from bulkyard.jobs.services import chunks, commits, finishing, planning


def job_input(body: bytes, fmt: str = "jsonl") -> services.JobInput:
    return services.JobInput(
        file=ContentFile(body),
        format=fmt,
        name=f"items.{fmt}",
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )


def created_job(
    user: Any,
    body: bytes,
    *,
    fmt: str = "jsonl",
    params: dict | None = None,
    retention_days: int | None = None,
) -> Job:
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params=params or {},
        job_input=job_input(body, fmt),
        retention_days=retention_days,
    )
    return job


def planned_job(
    user: Any,
    *,
    items: int = 25,
    params: dict | None = None,
    chunk_size: int = 10,
    retention_days: int | None = None,
) -> Job:
    body = b"".join(f'{{"n": {n}}}\n'.encode() for n in range(items))
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params=params or {},
        job_input=job_input(body),
        chunk_size=chunk_size,
        retention_days=retention_days,
    )
    assert planning.job_plan(job_id=str(job.pk)) == "planned"
    return Job.objects.get(pk=job.pk)


def chunks_of(job: Job) -> list[Chunk]:
    return list(Chunk.objects.filter(job=job).order_by("sequence"))


def run_every_chunk(job: Job) -> None:
    for chunk in chunks_of(job):
        chunks.chunk_run(chunk_id=chunk.pk)


def expire(chunk: Chunk, *, attempts: int) -> None:
    """As a chunk whose worker died mid-run looks once its lease ran out."""
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.RUNNING,
        attempts=attempts,
        lease_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )


def held(chunk: Chunk, *, attempts: int = 1) -> uuid.UUID:
    """Mark ``chunk`` as running under a live lease; returns the lease's token."""
    token = uuid.uuid4()
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.RUNNING,
        attempts=attempts,
        lease_token=token,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    return token


def cancelled_job(
    user: Any,
    body: bytes,
    *,
    fmt: str = "jsonl",
    kind: str = "test.echo",
    chunk_size: int = 3,
    run: int = 1,
    stopped_after: list[int] | None = None,
) -> Job:
    """A job as a cancel leaves it: its first ``run`` chunks done, the next one
    stopped part-way after processing the items numbered ``stopped_after`` (if
    given), the others closed before they started."""
    job, _ = services.job_create(
        owner=user, kind=kind, params={}, job_input=job_input(body, fmt), chunk_size=chunk_size
    )
    assert planning.job_plan(job_id=str(job.pk)) == "planned"
    planned = chunks_of(job)
    for chunk in planned[:run]:
        assert chunks.chunk_run(chunk_id=chunk.pk) == "done"
    stopped = planned[run] if stopped_after is not None else None
    token = held(stopped) if stopped is not None else None
    services.job_cancel(job=job)
    if stopped is not None:
        commits.chunk_commit(
            chunk=Chunk.objects.select_related("job").get(pk=stopped.pk),
            token=token,
            status=ChunkStatus.CANCELLED,
            result=ChunkResult(
                items=[ItemResultData(number=n, succeeded=True) for n in stopped_after or ()]
            ),
            kind=registry.get(kind),
            ctx=None,
        )
    assert finishing.job_finalize(job_id=str(job.pk)) == "cancelled"
    return Job.objects.get(pk=job.pk)
