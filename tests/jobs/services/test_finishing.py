"""Finishing a job whose chunks are all done (bulkyard/jobs/services/finishing.py),
in-process on the real database."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bulkyard.jobs.models import Chunk, Job, JobStatus
from bulkyard.jobs.parts import parts_folder
from bulkyard.jobs.services import chunks, finishing, job_pause
from bulkyard.jobs.services.claims import job_step_claim
from tests.support.engine import chunks_of, planned_job, run_every_chunk
from tests.support.kinds import EchoKind

pytestmark = pytest.mark.django_db


def _finished_chunks_with_a_part(user):
    """A job whose chunks are all done, with a part file on disk."""
    job = planned_job(user)
    run_every_chunk(job)
    default_storage.save(f"{parts_folder(str(job.pk))}/part-000000-rows", ContentFile(b"rows\n"))
    return job


def test_a_job_is_finished_exactly_once(user, sent):
    job = planned_job(user)
    run_every_chunk(job)

    assert finishing.job_finalize(job_id=str(job.pk)) == "succeeded"
    assert finishing.job_finalize(job_id=str(job.pk)) == "skipped"
    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.processed_items, done.chunks_finished) == ("succeeded", 25, 3)
    assert done.lease_token is None


def test_the_last_chunk_wakes_a_worker_to_finish_the_job(
    user, sent, django_capture_on_commit_callbacks
):
    job = planned_job(user)
    first, *rest = chunks_of(job)
    with django_capture_on_commit_callbacks(execute=True):
        chunks.chunk_run(chunk_id=first.pk)
    assert "steps" not in sent

    with django_capture_on_commit_callbacks(execute=True):
        for chunk in rest:
            chunks.chunk_run(chunk_id=chunk.pk)

    assert sent["steps"] == [0]


def test_a_paused_job_whose_chunks_all_finished_ends_and_its_pause_with_it(user, sent):
    job = planned_job(user)
    run_every_chunk(job)
    job_pause(job=job)

    assert finishing.job_finalize(job_id=str(job.pk)) == "succeeded"

    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.paused_at, done.processed_items) == ("succeeded", None, 25)
    assert done.time_paused > timedelta()


def test_finishing_before_every_chunk_finished_does_nothing(user, sent):
    job = planned_job(user)
    chunks.chunk_run(chunk_id=chunks_of(job)[0].pk)

    assert finishing.job_finalize(job_id=str(job.pk)) == "skipped"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_a_finish_whose_lease_was_taken_over_writes_no_status(user, sent):
    job = planned_job(user)
    run_every_chunk(job)
    claimed = job_step_claim(job_id=str(job.pk), step="finish")
    Job.objects.filter(pk=job.pk).update(lease_token=None)  # as a takeover would change it

    assert finishing.job_finish_claimed(claimed) == "skipped"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_finish_step_sees_every_chunk_in_order_with_its_successes_and_summary(
    user, sent, monkeypatch
):
    job = planned_job(user, params={"fail_items": [3]})
    run_every_chunk(job)
    chunks = chunks_of(job)
    Chunk.objects.filter(pk=chunks[1].pk).update(summary={"words": 7})
    seen = []
    monkeypatch.setattr(EchoKind, "finish", lambda self, ctx: seen.append(ctx))

    finishing.job_finalize(job_id=str(job.pk))

    [ctx] = seen
    assert [(c.sequence, c.pass_number, c.succeeded, c.summary) for c in ctx.chunks] == [
        (chunks[0].sequence, 1, 9, None),
        (chunks[1].sequence, 1, 10, {"words": 7}),
        (chunks[2].sequence, 1, 5, None),
    ]
    assert ctx.chunk_summaries == [{"words": 7}]


def test_cleanup_runs_once_the_final_status_is_saved_and_deletes_the_parts(user, sent, monkeypatch):
    job = _finished_chunks_with_a_part(user)
    seen = []
    monkeypatch.setattr(
        EchoKind, "cleanup", lambda self, job_id: seen.append(Job.objects.get(pk=job_id).status)
    )

    finishing.job_finalize(job_id=str(job.pk))

    assert seen == ["succeeded"]
    assert not default_storage.exists(parts_folder(str(job.pk)))


def test_a_cleanup_that_fails_leaves_the_job_finished(user, sent, monkeypatch):
    job = _finished_chunks_with_a_part(user)

    def broken(self, job_id):
        raise OSError("disk gone")

    monkeypatch.setattr(EchoKind, "cleanup", broken)

    assert finishing.job_finalize(job_id=str(job.pk)) == "succeeded"
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_a_summary_the_database_refuses_is_kept_as_a_note(user, sent, monkeypatch):
    job = planned_job(user)
    run_every_chunk(job)
    monkeypatch.setattr(
        EchoKind, "finish", lambda self, ctx: finishing.FinishResult(summary={"mean": float("nan")})
    )

    assert finishing.job_finalize(job_id=str(job.pk)) == "succeeded"
    summary = Job.objects.get(pk=job.pk).summary
    assert "NaN" in summary["not_stored"]
