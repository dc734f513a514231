"""Maintenance (bulkyard/jobs/services/maintenance.py), in-process on the real
database: the sweeper, with the broker's queue depths given as a broker that
lost its messages would report them. Purging is retention's (test_retention.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulkyard.jobs import dispatch
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job, JobStatus
from bulkyard.jobs.services import chunks, finishing, job_cancel, job_pause, maintenance
from tests.support.engine import (
    chunks_of,
    created_job,
    expire,
    planned_job,
    run_every_chunk,
)

pytestmark = pytest.mark.django_db


# The control queue's two kinds of wake-up, as the ``sent`` fixture records them.
_SENT_TO = {"bulkyard": ("steps", "callbacks")}


@pytest.fixture
def waiting(monkeypatch, sent):
    """Wake-ups the broker holds, by queue: what a test says was there, plus
    what the test's engine sent since (nothing takes them)."""
    depths: dict[str, int] = {}

    def held(queues):
        return {
            q: depths.get(q, 0) + sum(len(sent.get(name, [])) for name in _SENT_TO.get(q, (q,)))
            for q in queues
        }

    monkeypatch.setattr(dispatch, "waiting_wakeups", held)
    return depths


def test_a_chunk_whose_worker_was_lost_is_handed_to_another(user, sent, waiting):
    job = planned_job(user)
    chunk = chunks_of(job)[0]
    expire(chunk, attempts=1)
    waiting["bulkyard.io"] = 2  # the other two chunks' wake-ups

    report = maintenance.sweep_stalled_work()

    assert report.requeued_chunks == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.PENDING
    assert sent["bulkyard.io"] == [0]
    assert chunks.chunk_run(chunk_id=chunk.pk) == "done"
    assert Chunk.objects.get(pk=chunk.pk).attempts == 2


def test_the_items_of_a_chunk_that_crashed_too_often_fail(user, sent, waiting, settings):
    settings.BULKYARD_CHUNK_MAX_ATTEMPTS = 3
    job = planned_job(user)
    chunk = chunks_of(job)[1]
    expire(chunk, attempts=3)

    report = maintenance.sweep_stalled_work()

    assert report.failed_chunks == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.FAILED
    assert ItemResult.objects.filter(job=job, code="chunk_failed").count() == 10


def test_a_lost_chunk_of_a_cancelling_job_is_closed(user, sent, waiting):
    job = planned_job(user)
    expire(chunks_of(job)[0], attempts=1)
    job_cancel(job=job)

    report = maintenance.sweep_stalled_work()

    assert report.cancelled_chunks == 1
    cancelled = Job.objects.get(pk=job.pk)
    assert cancelled.chunks_finished == cancelled.chunks_total == 3
    assert {c.status for c in chunks_of(job)} == {ChunkStatus.CANCELLED}


def test_pending_chunks_left_behind_in_a_cancelling_job_are_closed(user, sent, waiting):
    job = planned_job(user)
    job_cancel(job=job)
    # As if a crashed run had put its chunk back to pending after the cancel.
    Chunk.objects.filter(pk=chunks_of(job)[0].pk).update(status=ChunkStatus.PENDING)
    Job.objects.filter(pk=job.pk).update(chunks_finished=2)

    report = maintenance.sweep_stalled_work()

    assert report.cancelled_chunks == 1
    final = Job.objects.get(pk=job.pk)
    assert final.chunks_finished == final.chunks_total == 3


def test_chunks_whose_wakeups_the_broker_lost_get_new_ones(user, sent, waiting):
    planned_job(user)  # three chunks, their wake-ups gone with the broker's data

    report = maintenance.sweep_stalled_work()

    assert report.wakeups == {"bulkyard.io": 3}
    assert len(sent["bulkyard.io"]) == 3


def test_only_the_missing_wakeups_are_sent(user, sent, waiting):
    planned_job(user)
    waiting["bulkyard.io"] = 2

    assert maintenance.sweep_stalled_work().wakeups == {"bulkyard.io": 1}


def test_no_wakeup_is_sent_while_enough_wait_in_the_broker(user, sent, waiting):
    planned_job(user)
    waiting["bulkyard.io"] = 3

    assert maintenance.sweep_stalled_work().wakeups == {}
    assert sent == {}


def test_chunks_still_in_their_backoff_get_no_wakeup(user, sent, waiting):
    job = planned_job(user, params={"crash_attempts": 1})
    for chunk in chunks_of(job):
        chunks.chunk_run(chunk_id=chunk.pk)  # each one raises and backs off
    sent.clear()

    assert maintenance.sweep_stalled_work().wakeups == {}


def test_a_job_accepted_while_the_broker_was_down_is_planned(user, sent, waiting):
    created_job(user, b'{"n": 1}\n')

    assert maintenance.sweep_stalled_work().wakeups == {"bulkyard": 1}
    assert sent["steps"] == [0]


def test_a_job_whose_finish_wakeup_was_lost_gets_one(user, sent, waiting):
    job = planned_job(user)
    run_every_chunk(job)

    assert maintenance.sweep_stalled_work().wakeups == {"bulkyard": 1}


def _paused_for(user, *, hours: float) -> Job:
    """A job with one chunk committed, paused ``hours`` ago."""
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)
    job_pause(job=job)
    Job.objects.filter(pk=job.pk).update(paused_at=timezone.now() - timedelta(hours=hours))
    return job


def test_a_job_paused_longer_than_the_limit_is_cancelled_saying_why(user, sent, waiting, settings):
    settings.BULKYARD_PAUSE_MAX_HOURS = 72
    job = _paused_for(user, hours=73)

    report = maintenance.sweep_stalled_work()

    assert report.cancelled_paused_jobs == 1
    assert finishing.job_finalize(job_id=str(job.pk)) == "cancelled"
    final = Job.objects.get(pk=job.pk)
    assert (final.error_code, final.processed_items, final.paused_at) == (
        "paused_too_long",
        10,
        None,
    )
    assert "72 hours" in final.error_message


def test_a_job_paused_within_the_limit_stays_paused(user, sent, waiting, settings):
    settings.BULKYARD_PAUSE_MAX_HOURS = 72
    job = _paused_for(user, hours=71)

    assert maintenance.sweep_stalled_work().cancelled_paused_jobs == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED


def test_a_pause_limit_of_zero_never_cancels(user, sent, waiting, settings):
    settings.BULKYARD_PAUSE_MAX_HOURS = 0
    job = _paused_for(user, hours=10_000)

    assert maintenance.sweep_stalled_work().cancelled_paused_jobs == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED


def test_a_paused_jobs_chunks_get_no_wakeup(user, sent, waiting):
    job = planned_job(user)  # three chunks, their wake-ups gone with the broker's data
    job_pause(job=job)

    assert maintenance.sweep_stalled_work().wakeups == {}
    assert sent == {}


def test_a_lost_chunk_of_a_paused_job_waits_pending_for_the_resume(user, sent, waiting):
    job = planned_job(user)
    chunk = chunks_of(job)[0]
    expire(chunk, attempts=1)
    job_pause(job=job)

    report = maintenance.sweep_stalled_work()

    assert report.requeued_chunks == 1
    assert Chunk.objects.get(pk=chunk.pk).status == ChunkStatus.PENDING
    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED
    assert chunks.chunk_run(chunk_id=chunk.pk) == "skipped"


def test_an_unreachable_broker_leaves_the_rest_of_the_sweep_done(user, sent, monkeypatch):
    job = planned_job(user)
    expire(chunks_of(job)[0], attempts=1)

    def unreachable(queues):
        raise ConnectionRefusedError("broker away")

    monkeypatch.setattr(dispatch, "waiting_wakeups", unreachable)

    report = maintenance.sweep_stalled_work()

    assert (report.requeued_chunks, report.wakeups) == (1, {})
