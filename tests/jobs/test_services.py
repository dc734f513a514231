"""Engine services run in-process on the real database (no worker, no broker:
what the services would enqueue is recorded instead)."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from bulkyard.jobs import dispatch, services
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job, JobStatus
from bulkyard.jobs.parts import parts_folder
from tests.support.kinds import EchoKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """What the services hand to the broker, by task."""
    record: dict[str, list] = {"plan": [], "chunks": [], "finalize": []}
    monkeypatch.setattr(dispatch, "enqueue_plan", lambda job_id: record["plan"].append(job_id))
    monkeypatch.setattr(
        dispatch,
        "enqueue_chunks",
        lambda ids, queue, countdown=0: record["chunks"].extend(ids),
    )
    monkeypatch.setattr(
        dispatch, "enqueue_finalize", lambda job_id: record["finalize"].append(job_id)
    )
    return record


def _input(body: bytes, fmt: str = "jsonl") -> services.JobInput:
    return services.JobInput(
        file=ContentFile(body),
        format=fmt,
        name=f"items.{fmt}",
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )


def _created_job(user, body: bytes, *, fmt: str = "jsonl", params: dict | None = None):
    job, _ = services.job_create(
        owner=user, kind="test.echo", params=params or {}, job_input=_input(body, fmt)
    )
    return job


def _planned_job(user, *, items: int = 25, params: dict | None = None, chunk_size: int = 10):
    body = b"".join(f'{{"n": {n}}}\n'.encode() for n in range(items))
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params=params or {},
        job_input=_input(body),
        chunk_size=chunk_size,
    )
    assert services.job_plan(job_id=str(job.pk)) == "planned"
    return Job.objects.get(pk=job.pk)


def _chunks(job):
    return list(Chunk.objects.filter(job=job).order_by("sequence"))


def test_planning_cuts_the_input_into_pending_chunks(user, sent):
    job = _planned_job(user, items=25)

    assert job.status == JobStatus.RUNNING
    assert (job.total_items, job.chunks_total) == (25, 3)
    assert [c.item_count for c in _chunks(job)] == [10, 10, 5]
    assert {c.status for c in _chunks(job)} == {ChunkStatus.PENDING}


def test_planning_twice_creates_no_more_chunks(user, sent):
    job = _planned_job(user)

    assert services.job_plan(job_id=str(job.pk)) == "skipped"
    assert Chunk.objects.filter(job=job).count() == 3


def test_running_a_chunk_twice_changes_nothing(user, sent):
    job = _planned_job(user)
    first = _chunks(job)[0]

    assert services.chunk_run(chunk_id=first.pk) == "done"
    after_first = Job.objects.get(pk=job.pk)
    assert services.chunk_run(chunk_id=first.pk) == "skipped"

    again = Job.objects.get(pk=job.pk)
    assert again.processed_items == after_first.processed_items == 10
    assert ItemResult.objects.filter(job=job).count() == 10
    assert Chunk.objects.get(pk=first.pk).attempts == 1


def test_the_last_chunk_asks_for_finalisation_exactly_once(user, sent):
    job = _planned_job(user)

    for chunk in _chunks(job):
        services.chunk_run(chunk_id=chunk.pk)

    # on_commit callbacks do not run inside the test transaction, so run the
    # guarded step directly, twice, as a duplicated message would.
    assert services.job_finalize(job_id=str(job.pk)) == "succeeded"
    assert services.job_finalize(job_id=str(job.pk)) == "skipped"
    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.processed_items, done.chunks_finished) == ("succeeded", 25, 3)


def _finished_chunks_with_a_part(user):
    """A job whose chunks are all done, with a part file on disk."""
    job = _planned_job(user)
    for chunk in _chunks(job):
        services.chunk_run(chunk_id=chunk.pk)
    default_storage.save(f"{parts_folder(str(job.pk))}/part-000000-rows", ContentFile(b"rows\n"))
    return job


def test_cleanup_runs_once_the_final_status_is_saved_and_deletes_the_parts(user, sent, monkeypatch):
    job = _finished_chunks_with_a_part(user)
    seen = []
    monkeypatch.setattr(
        EchoKind, "cleanup", lambda self, job_id: seen.append(Job.objects.get(pk=job_id).status)
    )

    services.job_finalize(job_id=str(job.pk))

    assert seen == ["succeeded"]
    assert not default_storage.exists(parts_folder(str(job.pk)))


def test_a_cleanup_that_fails_leaves_the_job_finished(user, sent, monkeypatch):
    job = _finished_chunks_with_a_part(user)

    def broken(self, job_id):
        raise OSError("disk gone")

    monkeypatch.setattr(EchoKind, "cleanup", broken)

    assert services.job_finalize(job_id=str(job.pk)) == "succeeded"
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_finalising_before_every_chunk_finished_does_nothing(user, sent):
    job = _planned_job(user)
    services.chunk_run(chunk_id=_chunks(job)[0].pk)

    assert services.job_finalize(job_id=str(job.pk)) == "skipped"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_a_commit_after_the_lease_was_taken_over_is_dropped(user, sent):
    job = _planned_job(user)
    chunk = _chunks(job)[0]
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.RUNNING, lease_token=uuid.uuid4(), lease_expires_at=timezone.now()
    )

    with pytest.raises(services.LeaseLost):
        services._chunk_commit(
            chunk=chunk,
            token=uuid.uuid4(),
            status=ChunkStatus.DONE,
            result=services.ChunkResult(),
            kind=services.registry.get("test.echo"),
            ctx=None,
        )
    assert Job.objects.get(pk=job.pk).chunks_finished == 0


def _expire(chunk, *, attempts: int) -> None:
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.RUNNING,
        attempts=attempts,
        lease_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )


def test_sweeper_enqueues_again_a_chunk_whose_worker_was_lost(user, sent):
    job = _planned_job(user)
    chunk = _chunks(job)[0]
    _expire(chunk, attempts=1)

    report = services.sweep_stalled_work()

    assert report.requeued_chunks == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.PENDING
    assert sent["chunks"] == [chunk.pk]
    assert services.chunk_run(chunk_id=chunk.pk) == "done"
    assert Chunk.objects.get(pk=chunk.pk).attempts == 2


def test_sweeper_fails_the_items_of_a_chunk_that_crashed_too_often(user, sent, settings):
    settings.BULKYARD_CHUNK_MAX_ATTEMPTS = 3
    job = _planned_job(user)
    chunk = _chunks(job)[1]
    _expire(chunk, attempts=3)

    report = services.sweep_stalled_work()

    assert report.failed_chunks == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.FAILED
    failed = ItemResult.objects.filter(job=job, outcome="failed").order_by("item_number")
    assert [r.item_number for r in failed] == list(range(11, 21))
    assert {r.code for r in failed} == {"chunk_failed"}
    assert failed[0].input == {"n": 10}
    assert Job.objects.get(pk=job.pk).failed_items == 10


def test_sweeper_closes_a_lost_chunk_of_a_cancelling_job(user, sent):
    job = _planned_job(user)
    first = _chunks(job)[0]
    _expire(first, attempts=1)
    services.job_cancel(job=job)

    report = services.sweep_stalled_work()

    assert report.cancelled_chunks == 1
    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.chunks_finished == cancelled.chunks_total == 3
    assert {c.status for c in _chunks(job)} == {ChunkStatus.CANCELLED}


def test_sweeper_enqueues_again_pending_chunks_whose_message_was_lost(user, sent, settings):
    job = _planned_job(user)
    Chunk.objects.filter(job=job).update(enqueued_at=timezone.now() - timedelta(hours=1))

    report = services.sweep_stalled_work()

    assert report.requeued_pending_chunks == 3
    assert sorted(sent["chunks"]) == sorted(c.pk for c in _chunks(job))


def test_sweeper_plans_again_a_job_whose_planning_message_was_lost(user, sent):
    body = b'{"n": 1}\n'
    job = _created_job(user, body)
    Job.objects.filter(pk=job.pk).update(plan_enqueued_at=timezone.now() - timedelta(hours=1))

    report = services.sweep_stalled_work()

    assert report.replanned_jobs == 1
    assert sent["plan"] == [str(job.pk)]


def test_sweeper_finalises_a_job_whose_finish_message_was_lost(user, sent):
    job = _planned_job(user)
    for chunk in _chunks(job):
        services.chunk_run(chunk_id=chunk.pk)

    report = services.sweep_stalled_work()

    assert report.refinalized_jobs == 1
    assert sent["finalize"][-1] == str(job.pk)


def test_cancel_closes_chunks_that_never_started(user, sent):
    job = _planned_job(user)
    services.chunk_run(chunk_id=_chunks(job)[0].pk)

    services.job_cancel(job=job)

    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.status == JobStatus.CANCELLING
    assert cancelled.chunks_finished == 3
    assert services.job_finalize(job_id=str(job.pk)) == "cancelled"
    final = Job.objects.get(pk=job.pk)
    assert (final.processed_items, final.total_items) == (10, 25)


def test_a_chunk_of_a_cancelled_job_does_not_start(user, sent):
    job = _planned_job(user)
    services.job_cancel(job=job)

    assert services.chunk_run(chunk_id=_chunks(job)[0].pk) == "skipped"


def test_sweeper_sends_a_lost_plan_again_only_once_per_interval(user, sent):
    body = b'{"n": 1}\n'
    job = _created_job(user, body)
    Job.objects.filter(pk=job.pk).update(plan_enqueued_at=timezone.now() - timedelta(hours=1))

    services.sweep_stalled_work()
    services.sweep_stalled_work()

    assert sent["plan"] == [str(job.pk)]


def test_a_chunk_that_raises_while_its_job_is_cancelled_is_closed(user, sent):
    job = _planned_job(user, params={"crash_attempts": 1})
    chunks = _chunks(job)
    token = uuid.uuid4()  # the chunk was claimed and is running when the job is cancelled
    Chunk.objects.filter(pk=chunks[0].pk).update(
        status=ChunkStatus.RUNNING, lease_token=token, attempts=1
    )
    services.job_cancel(job=job)

    chunk = Chunk.objects.select_related("job").get(pk=chunks[0].pk)
    outcome = services._chunk_release_after_error(
        chunk=chunk, token=token, error=RuntimeError("boom")
    )

    assert outcome == "cancelled"
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.CANCELLED
    final = Job.objects.get(pk=job.pk)
    assert final.chunks_finished == final.chunks_total


def test_sweeper_closes_pending_chunks_left_behind_in_a_cancelling_job(user, sent):
    job = _planned_job(user)
    services.job_cancel(job=job)
    # As if a crashed run had put its chunk back to pending after the cancel.
    Chunk.objects.filter(pk=_chunks(job)[0].pk).update(status=ChunkStatus.PENDING)
    Job.objects.filter(pk=job.pk).update(chunks_finished=2)

    report = services.sweep_stalled_work()

    assert report.cancelled_chunks == 1
    final = Job.objects.get(pk=job.pk)
    assert final.chunks_finished == final.chunks_total == 3


def test_planning_an_input_that_breaks_the_reader_fails_the_job(user, sent, monkeypatch):
    body = b'{"n": 1}\n'
    job = _created_job(user, body)

    def explode(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(services, "plan_input", explode)

    assert services.job_plan(job_id=str(job.pk)) == "failed"
    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.error_code) == ("failed", "planning_failed")


def test_a_failed_chunk_whose_inputs_the_database_refuses_still_closes(user, sent, monkeypatch):
    job = _planned_job(user, items=5)
    chunk = Chunk.objects.select_related("job").get(job=job)
    token = uuid.uuid4()
    Chunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.RUNNING, lease_token=token, attempts=3
    )
    chunk.refresh_from_db()
    real_commit = services._chunk_commit
    calls = []

    def commit_refusing_inputs(**kwargs):
        calls.append([item.input for item in kwargs["result"].items])
        if any(item.input is not None for item in kwargs["result"].items):
            from django.db import DataError

            raise DataError("unsupported Unicode escape sequence")
        return real_commit(**kwargs)

    monkeypatch.setattr(services, "_chunk_commit", commit_refusing_inputs)

    services._chunk_fail_exhausted(chunk=chunk, token=token, reason="boom")

    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.FAILED
    assert ItemResult.objects.filter(job=job, outcome="failed").count() == 5
    assert len(calls) == 2


def test_retry_leaves_out_items_the_reader_could_not_read(user, sent):
    body = b"a,b\n1,x\n2,y,extra\n3,z\n"
    job = _created_job(user, body, fmt="csv", params={"fail_items": [4]})
    services.job_plan(job_id=str(job.pk))
    for chunk in Chunk.objects.filter(job=job):
        services.chunk_run(chunk_id=chunk.pk)
    services.job_finalize(job_id=str(job.pk))

    retry, created = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)
    services.job_plan(job_id=str(retry.pk))

    assert created
    assert Job.objects.get(pk=job.pk).failed_items == 2
    assert Job.objects.get(pk=retry.pk).total_items == 1


def test_purge_deletes_old_finished_jobs_with_their_rows_and_files(user, sent):
    from django.core.management import call_command

    old = _planned_job(user, items=5, params={"fail_items": [1]})
    for chunk in _chunks(old):
        services.chunk_run(chunk_id=chunk.pk)
    services.job_finalize(job_id=str(old.pk))
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=40))
    recent = _planned_job(user, items=5)
    stored = Job.objects.get(pk=old.pk).input_file
    assert stored.storage.exists(stored.name)

    call_command("purge_jobs", "--older-than-days", "30")

    assert not Job.objects.filter(pk=old.pk).exists()
    assert not ItemResult.objects.filter(job_id=old.pk).exists()
    assert not Chunk.objects.filter(job_id=old.pk).exists()
    assert not stored.storage.exists(stored.name)
    assert Job.objects.filter(pk=recent.pk).exists()


def test_purge_deletes_parts_a_crashed_finish_step_left(user):
    from bulkyard.jobs.parts import part_writer

    job = _planned_job(user, items=2)
    with part_writer(job_id=str(job.pk), sequence=1) as (name, sink):
        sink.write(b"rows of a chunk\n")
    Job.objects.filter(pk=job.pk).update(
        status="failed", finished_at=timezone.now() - timedelta(days=40)
    )
    storage = Job.objects.get(pk=job.pk).input_file.storage
    assert storage.exists(name)

    services.jobs_purge(finished_before=timezone.now() - timedelta(days=30))

    assert not storage.exists(name)


def test_purge_deletes_a_jobs_attachments_too(user):
    from bulkyard.jobs.models import JobAttachment

    body = b"email\nada@example.com\n"
    job, _ = services.job_create(
        owner=user,
        kind="email.send",
        params={"subject": "Hi", "text": "Hello"},
        job_input=_input(body, "csv"),
        attachments=[
            services.AttachmentInput(
                file=ContentFile(b"terms"),
                name="terms.pdf",
                content_type="application/pdf",
                sha256=hashlib.sha256(b"terms").hexdigest(),
                size=5,
            )
        ],
    )
    stored = JobAttachment.objects.get(job=job).file
    assert stored.storage.exists(stored.name)
    Job.objects.filter(pk=job.pk).update(
        status="succeeded", finished_at=timezone.now() - timedelta(days=40)
    )

    services.jobs_purge(finished_before=timezone.now() - timedelta(days=30))

    assert not JobAttachment.objects.exists()
    assert not stored.storage.exists(stored.name)


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (["a.pdf", "a.pdf"], "duplicate_attachment_name"),
        (["../etc/passwd"], "invalid_attachment_name"),
        (["bad\nname.pdf"], "invalid_attachment_name"),
    ],
)
def test_attachments_with_unusable_names_are_refused(user, names, code):
    attachments = [
        services.AttachmentInput(
            file=ContentFile(b"x"), name=name, content_type="", sha256="0" * 64, size=1
        )
        for name in names
    ]

    with pytest.raises(services.InvalidJobRequest) as caught:
        services.job_create(
            owner=user,
            kind="email.send",
            params={"subject": "Hi", "text": "Hello"},
            job_input=_input(b"email\nada@example.com\n", "csv"),
            attachments=attachments,
        )

    assert caught.value.code == code
    assert not Job.objects.exists()
