"""Claims of chunks and job steps (bulkyard/jobs/services/claims.py) on the real
database."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobPriority, JobStatus
from bulkyard.jobs.services import claims
from tests.support.engine import chunks_of, created_job, planned_job, run_every_chunk

pytestmark = pytest.mark.django_db


def test_under_fifo_scheduling_the_next_chunk_is_the_oldest_claimable_one(user, sent, settings):
    settings.BULKYARD_SCHEDULING = "fifo"
    older, newer = planned_job(user), planned_job(user)
    Chunk.objects.filter(job=newer).update(available_at=timezone.now() - timedelta(hours=1))

    claimed = claims.chunk_claim_next(queue="bulkyard.io")

    assert claimed.chunk_id == chunks_of(newer)[0].pk
    chunk = Chunk.objects.get(pk=claimed.chunk_id)
    assert (chunk.status, chunk.attempts, chunk.lease_token) == ("running", 1, claimed.token)
    assert older.pk != newer.pk


def _claim_and_finish(count: int) -> list[str]:
    """Claims ``count`` chunks one after another as a lone worker would, each
    finished before the next claim; the ids of their jobs, in claim order."""
    jobs = []
    for _ in range(count):
        claimed = claims.chunk_claim_next(queue="bulkyard.io")
        assert claimed is not None
        chunk = Chunk.objects.get(pk=claimed.chunk_id)
        Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.DONE)
        jobs.append(str(chunk.job_id))
    return jobs


def test_claims_alternate_between_owners_whatever_was_queued_first(user, other_user, sent):
    big = planned_job(user, items=100)
    small = planned_job(other_user, items=30)

    order = _claim_and_finish(6)

    assert order == [str(big.pk), str(small.pk)] * 3


def test_the_owner_with_fewer_chunks_running_is_claimed_for_first(user, other_user, sent):
    big = planned_job(user, items=100)
    small = planned_job(other_user, items=30)
    claims.chunk_claim(chunk_id=chunks_of(big)[0].pk)  # still running
    claims.chunk_claim(chunk_id=chunks_of(small)[0].pk)  # started later, but done
    Chunk.objects.filter(job=small, status=ChunkStatus.RUNNING).update(status=ChunkStatus.DONE)

    claimed = claims.chunk_claim_next(queue="bulkyard.io")

    assert Chunk.objects.get(pk=claimed.chunk_id).job_id == small.pk
    assert Chunk.objects.filter(job=big, status=ChunkStatus.RUNNING).count() == 1


def test_one_owners_jobs_alternate(user, sent):
    first = planned_job(user, items=100)
    second = planned_job(user, items=100)

    order = _claim_and_finish(4)

    assert order == [str(first.pk), str(second.pk)] * 2


def test_under_fifo_scheduling_one_owners_big_job_goes_first(user, other_user, sent, settings):
    settings.BULKYARD_SCHEDULING = "fifo"
    big = planned_job(user, items=100)
    planned_job(other_user, items=30)

    order = _claim_and_finish(4)

    assert order == [str(big.pk)] * 4


def test_an_owners_high_priority_job_is_claimed_for_before_its_older_jobs(user, sent):
    older = planned_job(user, items=30)
    urgent = planned_job(user, items=30)
    Job.objects.filter(pk=urgent.pk).update(priority=JobPriority.HIGH)

    order = _claim_and_finish(4)

    assert order == [str(urgent.pk)] * 3 + [str(older.pk)]


def test_an_owners_low_priority_job_waits_for_its_normal_ones(user, sent):
    background = planned_job(user, items=20)
    Job.objects.filter(pk=background.pk).update(priority=JobPriority.LOW)
    normal = planned_job(user, items=20)

    order = _claim_and_finish(3)

    assert order == [str(normal.pk)] * 2 + [str(background.pk)]


def test_a_high_priority_job_does_not_overtake_another_owners_turn(user, other_user, sent):
    urgent = planned_job(user, items=100)
    Job.objects.filter(pk=urgent.pk).update(priority=JobPriority.HIGH)
    low = planned_job(other_user, items=30)
    Job.objects.filter(pk=low.pk).update(priority=JobPriority.LOW)

    order = _claim_and_finish(6)

    assert order == [str(urgent.pk), str(low.pk)] * 3


def test_under_fifo_scheduling_higher_priority_chunks_go_first(user, other_user, sent, settings):
    settings.BULKYARD_SCHEDULING = "fifo"
    planned_job(user, items=30)
    urgent = planned_job(other_user, items=20)
    Job.objects.filter(pk=urgent.pk).update(priority=JobPriority.HIGH)

    order = _claim_and_finish(2)

    assert order == [str(urgent.pk)] * 2


@pytest.mark.django_db(transaction=True)
def test_fair_claims_skip_the_chunks_another_worker_is_claiming(user, other_user, sent):
    big = planned_job(user, items=100)
    small = planned_job(other_user, items=15)
    first, second = chunks_of(big)[:2]
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
    assert small.pk != big.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_fair_claims_never_take_one_chunk_twice(user, other_user, sent):
    planned_job(user, items=200)
    planned_job(other_user, items=200)
    taken: list[int] = []
    lock = threading.Lock()

    def worker():
        try:
            while (claimed := claims.chunk_claim_next(queue="bulkyard.io")) is not None:
                with lock:
                    taken.append(claimed.chunk_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(taken) == sorted(Chunk.objects.values_list("pk", flat=True))


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


def test_the_step_of_a_high_priority_job_is_claimed_before_older_steps(user, sent):
    created_job(user, b'{"n": 1}\n')
    urgent = created_job(user, b'{"n": 2}\n')
    Job.objects.filter(pk=urgent.pk).update(priority=JobPriority.HIGH)

    claimed = claims.job_step_claim_next()

    assert claimed.job_id == str(urgent.pk)


def test_a_job_with_every_chunk_finished_has_its_finish_step_due(user, sent):
    job = planned_job(user)
    assert claims.job_step_claim_next() is None
    run_every_chunk(job)

    claimed = claims.job_step_claim_next()

    assert (claimed.job_id, claimed.step) == (str(job.pk), "finish")
    assert Job.objects.get(pk=job.pk).finalize_started_at is not None


def test_a_paused_job_whose_chunks_all_finished_has_its_finish_step_due(user, sent):
    job = planned_job(user)
    run_every_chunk(job)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PAUSED, paused_at=timezone.now())

    claimed = claims.job_step_claim_next()

    assert (claimed.job_id, claimed.step) == (str(job.pk), "finish")


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
