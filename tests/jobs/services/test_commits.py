"""Committing a chunk's outcome (bulkyard/jobs/services/commits.py), in-process
on the real database (no worker, no broker)."""

import uuid

import pytest

from bulkyard.jobs import registry
from bulkyard.jobs.kinds import ChunkResult, ItemResultData
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job, JobStatus
from bulkyard.jobs.services import chunks, commits, job_cancel
from bulkyard.jobs.services.leases import LeaseLost
from tests.support.engine import chunks_of, held, planned_job

pytestmark = pytest.mark.django_db


def _running(chunk: Chunk) -> Chunk:
    return Chunk.objects.select_related("job").get(pk=chunk.pk)


def test_a_commit_after_the_lease_was_taken_over_is_dropped(user, sent):
    job = planned_job(user)
    chunk = chunks_of(job)[0]
    held(chunk)

    with pytest.raises(LeaseLost):
        commits.chunk_commit(
            chunk=chunk,
            token=uuid.uuid4(),
            status=ChunkStatus.DONE,
            result=ChunkResult(),
            kind=registry.get("test.echo"),
            ctx=None,
        )
    assert Job.objects.get(pk=job.pk).chunks_finished == 0


def test_results_the_database_would_refuse_are_stored_as_notes(user, sent):
    job = planned_job(user, items=5)
    chunk = chunks_of(job)[0]
    token = held(chunk)
    refused = [
        {"x": float("nan")},
        {"x": float("inf")},
        {"x": "nul \x00 inside"},
        {"x": "lone \ud800 surrogate"},
    ]
    result = ChunkResult(
        items=[
            ItemResultData(number=n, succeeded=False, input=value, code="bad", message="m\x00")
            for n, value in enumerate(refused, start=1)
        ]
        + [ItemResultData(number=5, succeeded=True, output={"y": float("-inf")})]
    )

    commits.chunk_commit(
        chunk=_running(chunk),
        token=token,
        status=ChunkStatus.DONE,
        result=result,
        kind=registry.get("test.echo"),
        ctx=None,
    )

    stored = {r.item_number: r for r in ItemResult.objects.filter(job=job)}
    assert [stored[n].input["not_stored"] for n in range(1, 5)] == [
        "the value could not be stored: it holds NaN or an infinite number",
        "the value could not be stored: it holds NaN or an infinite number",
        "the value could not be stored: it holds a NUL character",
        "the value could not be stored: it holds a lone UTF-16 surrogate",
    ]
    assert stored[1].message == "m\ufffd (input not kept: NaN or infinite number)"
    assert stored[5].output["content_omitted"] is True
    assert Job.objects.get(pk=job.pk).processed_items == 5


def test_a_cancelling_jobs_pending_chunks_are_closed_and_counted(user, sent):
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)

    job_cancel(job=job)

    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.status == JobStatus.CANCELLING
    assert cancelled.chunks_finished == 3
    assert [c.status for c in chunks_of(job)] == ["done", "cancelled", "cancelled"]


def _stop(chunk: Chunk, *, numbers: list[int], status: str = ChunkStatus.CANCELLED) -> Chunk:
    """Commit ``chunk`` as a run that processed the items ``numbers``."""
    commits.chunk_commit(
        chunk=_running(chunk),
        token=held(chunk),
        status=status,
        result=ChunkResult(items=[ItemResultData(number=n, succeeded=n % 2 == 0) for n in numbers]),
        kind=registry.get("test.echo"),
        ctx=None,
    )
    return Chunk.objects.get(pk=chunk.pk)


def test_a_chunk_stopped_part_way_records_the_numbers_of_the_items_it_processed(user, sent):
    chunk = chunks_of(planned_job(user, items=10))[0]

    stopped = _stop(chunk, numbers=[1, 2, 3, 4, 7, 9, 10])

    assert stopped.processed_ranges == [[1, 4], [7, 7], [9, 10]]
    assert stopped.processed_items == 7


def test_a_chunk_stopped_before_its_first_item_records_no_numbers(user, sent):
    chunk = chunks_of(planned_job(user, items=10))[0]

    assert _stop(chunk, numbers=[]).processed_ranges is None


def test_a_done_chunk_records_no_numbers(user, sent):
    chunk = chunks_of(planned_job(user, items=10))[0]

    assert (
        _stop(chunk, numbers=list(range(1, 11)), status=ChunkStatus.DONE).processed_ranges is None
    )
