"""Planning a queued job (bulkyard/jobs/services/planning.py), in-process on the
real database (gzip inputs on the local folder and on S3)."""

import gzip
import hashlib

import pytest
from django.core.files.base import ContentFile

from bulkyard.jobs import services
from bulkyard.jobs.inputs import readers
from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobStatus
from bulkyard.jobs.services import claims, job_pause, job_resume, planning
from tests.support.engine import chunks_of, created_job, planned_job

pytestmark = pytest.mark.django_db


def test_planning_cuts_the_input_into_pending_chunks_on_the_kinds_queue(user, sent):
    job = planned_job(user, items=25)

    assert job.status == JobStatus.RUNNING
    assert (job.total_items, job.chunks_total) == (25, 3)
    assert [c.item_count for c in chunks_of(job)] == [10, 10, 5]
    assert {(c.status, c.queue) for c in chunks_of(job)} == {(ChunkStatus.PENDING, "bulkyard.io")}


def test_planning_twice_creates_no_more_chunks(user, sent):
    job = planned_job(user)

    assert planning.job_plan(job_id=str(job.pk)) == "skipped"
    assert Chunk.objects.filter(job=job).count() == 3


def test_planning_gives_up_the_step_lease_and_resets_its_attempts(user, sent):
    job = planned_job(user)

    assert (job.lease_token, job.lease_expires_at, job.step_attempts) == (None, None, 0)


def test_a_job_planned_by_another_worker_meanwhile_is_left_alone(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)

    assert planning.job_plan(job_id=str(job.pk)) == "skipped"
    assert not Chunk.objects.filter(job=job).exists()


def test_planning_an_input_that_breaks_the_reader_fails_the_job(user, sent, monkeypatch):
    job = created_job(user, b'{"n": 1}\n')

    def explode(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(readers, "plan_input", explode)

    assert planning.job_plan(job_id=str(job.pk)) == "failed"
    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.error_code) == ("failed", "planning_failed")
    assert failed.lease_token is None


def test_planning_wakes_a_worker_per_chunk_once_committed(
    user, sent, django_capture_on_commit_callbacks
):
    job = created_job(user, b"".join(b'{"n": %d}\n' % n for n in range(25)))

    with django_capture_on_commit_callbacks(execute=True):
        planning.job_plan(job_id=str(job.pk))

    assert sent == {"bulkyard.io": [0, 0, 0]}


def test_a_planning_that_finds_its_job_paused_gives_its_step_up(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    claimed = claims.job_step_claim(job_id=str(job.pk), step="plan")
    job_pause(job=job)

    assert planning.job_plan_claimed(claimed) == "skipped"

    assert not Chunk.objects.filter(job=job).exists()
    job_resume(job=job)
    again = claims.job_step_claim_next()  # at once, not when the lease would have run out
    assert (again.job_id, again.step, again.attempts) == (str(job.pk), "plan", 1)


def test_a_planning_that_ends_after_a_pause_and_resume_plans_the_job(user, sent):
    job = created_job(user, b'{"n": 1}\n')
    claimed = claims.job_step_claim(job_id=str(job.pk), step="plan")
    job_pause(job=job)
    job_resume(job=job)

    assert planning.job_plan_claimed(claimed) == "planned"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def _gzip_job(user, body: bytes) -> Job:
    compressed = gzip.compress(body)
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params={},
        job_input=services.JobInput(
            file=ContentFile(compressed),
            format="jsonl",
            name="items.jsonl.gz",
            sha256=hashlib.sha256(compressed).hexdigest(),
            size=len(compressed),
        ),
    )
    assert job.input_file.name.endswith(".jsonl.gz")
    return job


def test_a_gzip_input_is_planned_from_its_decompressed_form_which_replaces_it(
    user, sent, any_storage
):
    body = b"".join(b'{"n": %d}\n' % n for n in range(25))
    job = _gzip_job(user, body)
    upload = job.input_file.name

    assert planning.job_plan(job_id=str(job.pk)) == "planned"

    planned = Job.objects.get(pk=job.pk)
    assert (planned.input_file.name, planned.input_compression) == (upload[: -len(".gz")], "")
    assert (planned.total_items, planned.chunks_total) == (25, 3)
    with any_storage.open(planned.input_file.name, "rb") as plain:
        assert plain.read() == body
    assert not any_storage.exists(upload)


def test_a_corrupt_gzip_input_fails_the_job_and_leaves_no_decompressed_file(
    user, sent, any_storage
):
    body = b"".join(b'{"n": %d}\n' % n for n in range(20_000))
    job = _gzip_job(user, body)
    # Cut after the head the upload checks read: the stream breaks while planning.
    with any_storage.open(job.input_file.name, "rb") as whole:
        truncated = whole.read()[:2000]
    any_storage.delete(job.input_file.name)
    assert any_storage.save(job.input_file.name, ContentFile(truncated)) == job.input_file.name

    assert planning.job_plan(job_id=str(job.pk)) == "failed"

    assert Job.objects.get(pk=job.pk).error_code == "invalid_gzip"
    assert not any_storage.exists(job.input_file.name.removesuffix(".gz"))
