"""Cancelling, pausing, resuming, retrying and re-running jobs
(bulkyard/jobs/services/controls.py), in-process on the real database (no
worker, no broker)."""

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import registry, services
from bulkyard.jobs.kinds import ChunkResult
from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobPriority, JobStatus
from bulkyard.jobs.services import chunks, claims, commits, finishing, planning
from tests.support import s3
from tests.support.engine import (
    chunks_of,
    created_job,
    expire,
    held,
    job_input,
    planned_job,
    run_every_chunk,
)

pytestmark = pytest.mark.django_db


def test_cancelling_a_queued_job_ends_it_at_once(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    services.job_cancel(job=job)

    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert planning.job_plan(job_id=str(job.pk)) == "skipped"


def test_cancel_closes_chunks_that_never_started(user, sent):
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)

    services.job_cancel(job=job)

    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.status == JobStatus.CANCELLING
    assert cancelled.chunks_finished == 3
    assert finishing.job_finalize(job_id=str(job.pk)) == "cancelled"
    final = Job.objects.get(pk=job.pk)
    assert (final.processed_items, final.total_items) == (10, 25)


def test_rerunning_stalled_chunks_hands_them_to_workers_now(user, sent):
    job = planned_job(user, params={"crash_attempts": 1})
    first, second, third = chunks_of(job)
    chunks.chunk_run(chunk_id=first.pk)  # raises, backs off
    expire(second, attempts=1)
    sent.clear()

    assert services.job_rerun_stalled_chunks(job=job) == 3

    assert len(sent["bulkyard.io"]) == 3
    assert {c.status for c in chunks_of(job)} == {ChunkStatus.PENDING}
    assert all(c.available_at <= timezone.now() for c in chunks_of(job))
    assert third.pk


def test_retry_leaves_out_items_the_reader_could_not_read(user, sent):
    body = b"a,b\n1,x\n2,y,extra\n3,z\n"
    job = created_job(user, body, fmt="csv", params={"fail_items": [4]})
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    retry, created = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)
    planning.job_plan(job_id=str(retry.pk))

    assert created
    assert Job.objects.get(pk=job.pk).failed_items == 2
    assert Job.objects.get(pk=retry.pk).total_items == 1


def _finished_with_attachment(user, monkeypatch) -> Job:
    # The echo kind takes attachments here, as an email's kind does.
    monkeypatch.setattr(registry.get("test.echo"), "accepts_attachments", True)
    content = b"%PDF terms" * 100
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params={"fail_items": [1]},
        job_input=job_input(b'{"n": 1}\n{"n": 2}\n'),
        attachments=[
            services.AttachmentInput(
                file=ContentFile(content),
                name="terms.pdf",
                content_type="application/pdf",
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
            )
        ],
    )
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    return Job.objects.get(pk=job.pk)


def test_a_retry_gets_a_copy_of_the_attachments_of_the_job_it_retries(
    user, sent, monkeypatch, any_storage
):
    job = _finished_with_attachment(user, monkeypatch)
    original = job.attachments.get()

    retry, _ = services.job_retry_failed(job=job, owner=user)

    copied = retry.attachments.get()
    assert (copied.name, copied.sha256, copied.size) == ("terms.pdf", original.sha256, 1000)
    assert copied.file.name != original.file.name
    with (
        any_storage.open(copied.file.name, "rb") as new,
        any_storage.open(original.file.name, "rb") as old,
    ):
        assert new.read() == old.read()


def test_a_retry_on_s3_copies_the_attachments_inside_the_store(user, sent, monkeypatch, s3_storage):
    job = _finished_with_attachment(user, monkeypatch)
    sent_requests = s3.requests(s3_storage)

    retry, _ = services.job_retry_failed(job=job, owner=user)

    copied = retry.attachments.get().file.name
    assert ("CopyObject", copied) in sent_requests
    # No byte of an attachment went through this process, either way.
    attachments = [r for r in sent_requests if "/attachments/" in r[1]]
    assert not [
        r for r in attachments if r[0].split()[0] in ("GetObject", "PutObject", "UploadPart")
    ]


def test_a_retry_keeps_the_priority_of_the_job_it_retries(user, sent):
    job = created_job(user, b'{"n": 1}\n', params={"fail_items": [1]})
    Job.objects.filter(pk=job.pk).update(priority=JobPriority.LOW)
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    retry, _ = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)

    assert retry.priority == JobPriority.LOW


def test_retrying_a_job_whose_kind_is_gone_is_a_conflict_not_a_crash(user, sent):
    job = created_job(user, b'{"n": 1}\n', params={"fail_items": [1]})
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    Job.objects.filter(pk=job.pk).update(kind="gone.kind")

    with pytest.raises(services.JobConflict) as refused:
        services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)

    assert refused.value.code == "unknown_kind"
    assert not Job.objects.filter(retry_of_id=job.pk).exists()


def test_an_empty_retry_of_a_cancelled_job_points_to_the_items_it_left(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    services.job_cancel(job=job)

    with pytest.raises(services.JobConflict) as refused:
        services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)

    assert refused.value.message == (
        "nothing to retry: no item of the job failed; "
        "the items a cancel left are in its results with ?outcome=unprocessed"
    )


def test_an_operator_may_raise_a_running_jobs_priority(user, sent):
    job = planned_job(user)

    changed = services.job_set_priority(job=job, priority=JobPriority.HIGH)

    assert changed.priority == Job.objects.get(pk=job.pk).priority == JobPriority.HIGH


def test_the_priority_of_a_finished_job_cannot_change(user, sent):
    job = planned_job(user)
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    with pytest.raises(services.JobConflict):
        services.job_set_priority(job=job, priority=JobPriority.HIGH)

    assert Job.objects.get(pk=job.pk).priority == JobPriority.NORMAL


def _finished(user) -> Job:
    job = planned_job(user, items=5)
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    return Job.objects.get(pk=job.pk)


def test_a_paused_job_has_no_chunk_claimed(user, sent):
    job = planned_job(user)

    paused = services.job_pause(job=job)

    assert (paused.status, paused.paused_at is not None) == (JobStatus.PAUSED, True)
    assert claims.chunk_claim_next(queue="bulkyard.io") is None
    assert {c.status for c in chunks_of(job)} == {ChunkStatus.PENDING}


def test_a_chunk_running_when_its_job_is_paused_commits_its_items(user, sent):
    job = planned_job(user)
    chunk = chunks_of(job)[0]
    token = held(chunk)
    services.job_pause(job=job)

    commits.chunk_commit(
        chunk=chunk,
        token=token,
        status=ChunkStatus.DONE,
        result=ChunkResult(counted_failures=0),
        kind=registry.get("test.echo"),
        ctx=None,
    )

    paused = Job.objects.get(pk=job.pk)
    assert (paused.status, paused.chunks_finished) == (JobStatus.PAUSED, 1)
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.DONE


def test_pausing_a_paused_job_changes_nothing(user, sent):
    job = planned_job(user)
    first = services.job_pause(job=job)

    again = services.job_pause(job=job)

    assert (again.status, again.paused_at) == (JobStatus.PAUSED, first.paused_at)


def test_pausing_a_finished_job_is_a_conflict(user, sent):
    job = _finished(user)

    with pytest.raises(services.JobConflict) as raised:
        services.job_pause(job=job)

    assert raised.value.code == "job_finished"
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_pausing_a_job_being_cancelled_is_a_conflict(user, sent):
    job = planned_job(user)
    held(chunks_of(job)[0])
    services.job_cancel(job=job)

    with pytest.raises(services.JobConflict) as raised:
        services.job_pause(job=job)

    assert raised.value.code == "job_cancelling"


def test_a_queued_job_paused_is_not_planned(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    services.job_pause(job=job)

    assert claims.job_step_claim_next() is None
    assert planning.job_plan(job_id=str(job.pk)) == "skipped"
    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED


def test_resuming_a_job_paused_while_queued_queues_it_and_wakes_a_step_worker(
    user, sent, django_capture_on_commit_callbacks
):
    job = created_job(user, b'{"n": 1}\n')
    services.job_pause(job=job)

    with django_capture_on_commit_callbacks(execute=True):
        resumed = services.job_resume(job=job)

    assert (resumed.status, resumed.paused_at) == (JobStatus.QUEUED, None)
    assert sent["steps"] == [0]
    assert planning.job_plan(job_id=str(job.pk)) == "planned"


def test_resuming_a_paused_job_wakes_a_worker_per_claimable_chunk(
    user, sent, django_capture_on_commit_callbacks
):
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)
    services.job_pause(job=job)
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        resumed = services.job_resume(job=job)

    assert (resumed.status, resumed.paused_at) == (JobStatus.RUNNING, None)
    assert sent == {"bulkyard.io": [0, 0]}
    assert claims.chunk_claim_next(queue="bulkyard.io") is not None


def test_resuming_adds_the_pause_to_the_time_paused(user, sent):
    job = planned_job(user)
    services.job_pause(job=job)
    Job.objects.filter(pk=job.pk).update(paused_at=timezone.now() - timedelta(minutes=10))

    resumed = services.job_resume(job=job)

    assert timedelta(minutes=10) <= resumed.time_paused < timedelta(minutes=11)


def test_resuming_a_running_job_changes_nothing(user, sent, django_capture_on_commit_callbacks):
    job = planned_job(user)
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        resumed = services.job_resume(job=job)

    assert resumed.status == JobStatus.RUNNING
    assert sent == {}


def test_resuming_a_finished_job_is_a_conflict(user, sent):
    job = _finished(user)

    with pytest.raises(services.JobConflict) as raised:
        services.job_resume(job=job)

    assert raised.value.code == "job_finished"


def test_cancelling_a_paused_job_ends_it_cancelled(user, sent):
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)
    services.job_pause(job=job)

    cancelling = services.job_cancel(job=job)

    assert (cancelling.status, cancelling.paused_at) == (JobStatus.CANCELLING, None)
    assert finishing.job_finalize(job_id=str(job.pk)) == "cancelled"
    final = Job.objects.get(pk=job.pk)
    assert (final.processed_items, final.chunks_finished) == (10, 3)


def test_cancelling_a_job_paused_while_queued_ends_it_at_once(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    services.job_pause(job=job)

    cancelled = services.job_cancel(job=job)

    assert (cancelled.status, cancelled.paused_at) == (JobStatus.CANCELLED, None)
    assert cancelled.finished_at is not None


def test_a_paused_job_cannot_be_retried_until_it_finished(user, sent):
    job = planned_job(user, params={"fail_items": [1]})
    paused = services.job_pause(job=job)

    with pytest.raises(services.JobConflict) as raised:
        services.job_retry_failed(job=paused, owner=user)

    assert raised.value.code == "job_not_finished"
