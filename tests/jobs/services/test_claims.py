"""Claims of chunks and job steps (bulkyard/jobs/services/claims.py) on the real
database."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobStatus
from bulkyard.jobs.services import claims
from tests.support.engine import chunks_of, created_job, planned_job, run_every_chunk

pytestmark = pytest.mark.django_db


def test_the_next_chunk_is_the_oldest_claimable_one(user, sent):
    older, newer = planned_job(user), planned_job(user)
    Chunk.objects.filter(job=newer).update(available_at=timezone.now() - timedelta(hours=1))

    claimed = claims.chunk_claim_next(queue="bulkyard.io")

    assert claimed.chunk_id == chunks_of(newer)[0].pk
    chunk = Chunk.objects.get(pk=claimed.chunk_id)
    assert (chunk.status, chunk.attempts, chunk.lease_token) == ("running", 1, claimed.token)
    assert older.pk != newer.pk


def test_chunks_of_another_queue_are_not_claimed(user, sent):
    planned_job(user)

    assert claims.chunk_claim_next(queue="bulkyard.cpu") is None


def test_a_chunk_in_its_backoff_is_not_claimed(user, sent):
    job = planned_job(user, items=5)
    Chunk.objects.filter(job=job).update(available_at=timezone.now() + timedelta(minutes=1))

    assert claims.chunk_claim_next(queue="bulkyard.io") is None


def test_chunks_of_a_job_that_is_not_running_are_not_claimed(user, sent):
    job = planned_job(user, items=5)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLING)

    assert claims.chunk_claim_next(queue="bulkyard.io") is None


@pytest.mark.django_db(transaction=True)
def test_a_chunk_another_worker_is_claiming_is_skipped_not_waited_for(user, sent):
    job = planned_job(user, items=15)
    first, second = chunks_of(job)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            Chunk.objects.select_for_update().get(pk=first.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    locked.wait(10)
    try:
        claimed = claims.chunk_claim_next(queue="bulkyard.io")
    finally:
        release.set()
        thread.join()

    assert claimed.chunk_id == second.pk


def test_a_queued_job_has_its_plan_step_due(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    claimed = claims.job_step_claim_next()

    assert (claimed.job_id, claimed.step, claimed.attempts) == (str(job.pk), "plan", 1)
    assert claims.job_step_claim_next() is None  # its lease holds it now


def test_a_job_with_every_chunk_finished_has_its_finish_step_due(user, sent):
    job = planned_job(user)
    assert claims.job_step_claim_next() is None
    run_every_chunk(job)

    claimed = claims.job_step_claim_next()

    assert (claimed.job_id, claimed.step) == (str(job.pk), "finish")
    assert Job.objects.get(pk=job.pk).finalize_started_at is not None


def test_a_step_whose_lease_ran_out_is_claimed_again_and_counted(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    claims.job_step_claim_next()
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    again = claims.job_step_claim_next()

    assert (again.job_id, again.attempts) == (str(job.pk), 2)


def test_a_step_given_back_during_an_outage_is_not_counted(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    claimed = claims.job_step_claim_next()

    assert claims.step_lease_release(
        job_id=claimed.job_id, token=claimed.token, attempt_counts=False
    )

    assert claims.job_step_claim_next().attempts == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_claimable_chunks_are_counted_per_queue(user, sent):
    planned_job(user)

    assert claims.claimable_chunks("bulkyard.io", now=timezone.now()).count() == 3
    assert claims.claimable_chunks("bulkyard.cpu", now=timezone.now()).count() == 0
    assert {c.status for c in Chunk.objects.all()} == {ChunkStatus.PENDING}
