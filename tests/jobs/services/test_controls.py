"""Cancelling, retrying and re-running jobs (bulkyard/jobs/services/controls.py),
in-process on the real database (no worker, no broker)."""

import pytest
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.models import ChunkStatus, Job, JobPriority, JobStatus
from bulkyard.jobs.services import chunks, finishing, planning
from tests.support.engine import chunks_of, created_job, expire, planned_job, run_every_chunk

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


def test_a_retry_keeps_the_priority_of_the_job_it_retries(user, sent):
    job = created_job(user, b'{"n": 1}\n', params={"fail_items": [1]})
    Job.objects.filter(pk=job.pk).update(priority=JobPriority.LOW)
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    retry, _ = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)

    assert retry.priority == JobPriority.LOW


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
