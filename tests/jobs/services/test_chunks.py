"""Running chunks (bulkyard/jobs/services/chunks.py), in-process on the real
database (no worker, no broker)."""

import csv

import psycopg
import pytest
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.inputs import readers
from bulkyard.jobs.kinds import ChunkResult, Item
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job
from bulkyard.jobs.services import chunks, job_cancel, planning
from tests.support import s3
from tests.support.engine import chunks_of, held, job_input, planned_job
from tests.support.kinds import EchoKind

pytestmark = pytest.mark.django_db


def _running(chunk: Chunk) -> Chunk:
    return Chunk.objects.select_related("job").get(pk=chunk.pk)


def test_running_a_chunk_twice_changes_nothing(user, sent):
    job = planned_job(user)
    first = chunks_of(job)[0]

    assert chunks.chunk_run(chunk_id=first.pk) == "done"
    after_first = Job.objects.get(pk=job.pk)
    assert chunks.chunk_run(chunk_id=first.pk) == "skipped"

    again = Job.objects.get(pk=job.pk)
    assert again.processed_items == after_first.processed_items == 10
    assert ItemResult.objects.filter(job=job).count() == 10
    assert Chunk.objects.get(pk=first.pk).attempts == 1


def test_running_the_next_chunk_of_an_empty_queue_is_idle(user, sent):
    assert chunks.chunk_run_next(queue="bulkyard.io") == "idle"


def test_running_the_next_chunk_takes_the_oldest_pending_one(user, sent):
    job = planned_job(user)

    assert chunks.chunk_run_next(queue="bulkyard.io") == "done"

    assert [c.status for c in chunks_of(job)] == ["done", "pending", "pending"]


def test_a_chunk_whose_input_is_not_in_this_hosts_storage_says_so(user, sent):
    # A worker whose storage is not the web's: the chunk is tried again (another
    # worker may have the file), and its error names the storage and the fix.
    job = planned_job(user)
    job.input_file.storage.delete(job.input_file.name)
    chunk = chunks_of(job)[0]

    assert chunks.chunk_run(chunk_id=chunk.pk) == "retry_scheduled"

    after = Chunk.objects.get(pk=chunk.pk)
    assert after.error_message.startswith("InputMissing: the job's input is not in this host")
    assert "must share DJANGO_MEDIA_ROOT or use object storage" in after.error_message


def test_a_chunk_of_a_cancelled_job_does_not_start(user, sent):
    job = planned_job(user)
    job_cancel(job=job)

    assert chunks.chunk_run(chunk_id=chunks_of(job)[0].pk) == "skipped"


def test_a_chunk_that_raises_is_tried_again_after_a_backoff(user, sent):
    job = planned_job(user, params={"crash_attempts": 1})
    chunk = chunks_of(job)[0]

    assert chunks.chunk_run(chunk_id=chunk.pk) == "retry_scheduled"

    after = Chunk.objects.get(pk=chunk.pk)
    assert (after.status, after.attempts) == (ChunkStatus.PENDING, 1)
    assert "crash requested" in after.error_message
    delay = sent["bulkyard.io"][0]
    assert after.available_at >= timezone.now() + timezone.timedelta(seconds=delay - 1)


def test_a_chunk_that_raises_while_its_job_is_cancelled_is_closed(user, sent):
    job = planned_job(user, params={"crash_attempts": 1})
    chunk = chunks_of(job)[0]
    token = held(chunk)  # claimed and running when the job is cancelled
    job_cancel(job=job)

    outcome = chunks._chunk_release_after_error(
        chunk=_running(chunk), token=token, error=RuntimeError("boom")
    )

    assert outcome == "cancelled"
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.CANCELLED
    final = Job.objects.get(pk=job.pk)
    assert final.chunks_finished == final.chunks_total


def test_an_outage_hands_the_chunk_back_without_counting_the_attempt(user, sent, monkeypatch):
    job = planned_job(user)
    chunk = chunks_of(job)[0]

    def database_away(self, items, ctx):
        # A real refused connection, as a worker sees PostgreSQL gone.
        psycopg.connect("postgres://postgres@127.0.0.1:1/none", connect_timeout=2)

    monkeypatch.setattr(EchoKind, "process_chunk", database_away)

    assert chunks.chunk_run(chunk_id=chunk.pk) == "released"

    after = Chunk.objects.get(pk=chunk.pk)
    assert (after.status, after.attempts, after.lease_token) == (ChunkStatus.PENDING, 0, None)
    assert after.available_at <= timezone.now()
    assert sent["bulkyard.io"] == [0]


def test_a_chunk_that_failed_too_often_fails_its_items_with_their_inputs(user, sent):
    job = planned_job(user)
    chunk = chunks_of(job)[1]
    token = held(chunk, attempts=3)

    chunks.chunk_fail_exhausted(chunk=_running(chunk), token=token, reason="boom")

    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.FAILED
    failed = ItemResult.objects.filter(job=job, outcome="failed").order_by("item_number")
    assert [r.item_number for r in failed] == list(range(11, 21))
    assert {r.code for r in failed} == {"chunk_failed"}
    assert failed[0].input == {"n": 10}
    assert Job.objects.get(pk=job.pk).failed_items == 10


def test_failing_a_chunk_does_not_depend_on_reading_its_input(user, sent, monkeypatch):
    job = planned_job(user)
    chunk = chunks_of(job)[1]
    token = held(chunk, attempts=3)

    def reader_that_breaks(*args, **kwargs):
        yield Item(11, {"n": 10})
        raise csv.Error("field larger than field limit (131072)")

    monkeypatch.setattr(readers, "read_span", reader_that_breaks)

    chunks.chunk_fail_exhausted(chunk=_running(chunk), token=token, reason="boom")

    closed = Chunk.objects.get(pk=chunk.pk)
    assert (closed.status, closed.failed_items) == (ChunkStatus.FAILED, 10)
    assert "9 item(s) could not be read back" in closed.error_message
    assert list(ItemResult.objects.filter(job=job).values_list("item_number", flat=True)) == [11]
    job.refresh_from_db()
    assert (job.failed_items, job.chunks_finished) == (10, 1)


def test_a_kind_learns_about_its_job_from_its_context_alone(user, sent, monkeypatch):
    job = planned_job(user)
    seen = {}

    def process_chunk(self, items, ctx):
        seen.update(
            created_at=ctx.job_created_at,
            root=ctx.root_job_id,
            attachments=ctx.attachments,
            owner=ctx.owner_id,
        )
        return ChunkResult()

    monkeypatch.setattr(EchoKind, "process_chunk", process_chunk)

    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)

    assert seen == {
        "created_at": job.created_at,
        "root": str(job.pk),
        "attachments": (),
        "owner": user.pk,
    }


def test_a_chunk_in_the_middle_of_a_100_mb_input_on_s3_reads_its_own_range_only(
    user, sent, s3_storage
):
    pad = b"x" * 200
    body = b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, pad) for n in range(480_000))
    assert len(body) > 100 * 1000 * 1000
    job, _ = services.job_create(
        owner=user, kind="test.echo", params={}, job_input=job_input(body), chunk_size=10_000
    )
    assert planning.job_plan(job_id=str(job.pk)) == "planned"
    middle = chunks_of(job)[24]
    sent_requests = s3.requests(s3_storage)
    served = s3.bytes_served(s3_storage)

    with chunks.chunk_items(Job.objects.get(pk=job.pk), middle) as read:
        numbers = [item.number for item in read]

    assert numbers == list(range(middle.first_item_number, middle.first_item_number + 10_000))
    spans = [
        tuple(int(n) for n in operation.removeprefix("GetObject bytes=").split("-"))
        for operation, _ in sent_requests
        if operation.startswith("GetObject")
    ]
    # One GET for the chunk's span (2.3 MB), and the server sent that span:
    # not the file, nor more of it than the chunk reads.
    assert spans == [(middle.byte_start, middle.byte_end - 1)]
    assert served == [middle.byte_end - middle.byte_start]
