"""Jobs as users and operators act on them (create, cancel, retry, purge),
in-process on the real database (no worker, no broker)."""

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import finishing, planning, running, services
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job, JobStatus
from tests.support.engine import (
    chunks_of,
    created_job,
    expire,
    job_input,
    planned_job,
    run_every_chunk,
)

pytestmark = pytest.mark.django_db


def test_a_created_job_is_queued_and_wakes_a_step_worker_once_committed(
    user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = created_job(user, b'{"n": 1}\n')

    assert job.status == JobStatus.QUEUED
    assert sent == {"steps": [0]}


def test_cancelling_a_queued_job_ends_it_at_once(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    services.job_cancel(job=job)

    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert planning.job_plan(job_id=str(job.pk)) == "skipped"


def test_cancel_closes_chunks_that_never_started(user, sent):
    job = planned_job(user)
    running.chunk_run(chunk_id=chunks_of(job)[0].pk)

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
    running.chunk_run(chunk_id=first.pk)  # raises, backs off
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


def test_purge_deletes_old_finished_jobs_with_their_rows_and_files(user, sent):
    from django.core.management import call_command

    old = planned_job(user, items=5, params={"fail_items": [1]})
    for chunk in chunks_of(old):
        running.chunk_run(chunk_id=chunk.pk)
    finishing.job_finalize(job_id=str(old.pk))
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=40))
    recent = planned_job(user, items=5)
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

    job = planned_job(user, items=2)
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
        job_input=job_input(body, "csv"),
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
            job_input=job_input(b"email\nada@example.com\n", "csv"),
            attachments=attachments,
        )

    assert caught.value.code == code
    assert not Job.objects.exists()
