"""Retention (bulkyard/jobs/services/retention.py), in-process on the real
database and a real storage folder: when jobs expire, and the purge that
deletes expired jobs with everything they own."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.models import (
    CallbackDelivery,
    Chunk,
    ItemResult,
    Job,
    JobAttachment,
    JobStatus,
)
from bulkyard.jobs.parts import part_writer
from bulkyard.jobs.services import finishing, retention
from bulkyard.mail.models import EmailDelivery
from tests.support import s3
from tests.support.engine import created_job, job_input, planned_job, run_every_chunk

pytestmark = pytest.mark.django_db


def _finished(user, *, days_ago: float, items: int = 5, **created) -> Job:
    """A job run to its end (one failed item) that ended ``days_ago``, its
    expiry moved back with its end."""
    job = planned_job(user, items=items, params={"fail_items": [1]}, **created)
    run_every_chunk(job)
    assert finishing.job_finalize(job_id=str(job.pk)) == JobStatus.COMPLETED_WITH_ERRORS
    job.refresh_from_db()
    shift = timedelta(days=days_ago)
    assert job.finished_at is not None
    Job.objects.filter(pk=job.pk).update(
        finished_at=job.finished_at - shift,
        expires_at=None if job.expires_at is None else job.expires_at - shift,
    )
    return Job.objects.get(pk=job.pk)


def _with_files(job: Job) -> list[str]:
    """Give the job every kind of file a job can own; their storage names."""
    output = default_storage.save(
        f"jobs/{job.owner_id}/outputs/out-{job.pk}.csv", ContentFile(b"o")
    )
    Job.objects.filter(pk=job.pk).update(output_file=output)
    attachment = JobAttachment(job=job, name="terms.pdf", size=5, sha256="0" * 64)
    attachment.file.save("terms.pdf", ContentFile(b"terms"))
    with part_writer(job_id=str(job.pk), sequence=1) as (part, sink):
        sink.write(b"rows a crashed finish step left\n")
    return [job.input_file.name, output, attachment.file.name, part]


def test_a_finished_job_expires_its_retention_days_after_it_ends(user, sent, settings):
    settings.BULKYARD_RETENTION_DAYS = 30

    job = _finished(user, days_ago=0)

    assert job.retention_days == 30
    assert job.expires_at == job.finished_at + timedelta(days=30)


def test_a_job_cancelled_while_queued_expires_too(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    cancelled = services.job_cancel(job=job)

    assert cancelled.expires_at == cancelled.finished_at + timedelta(days=cancelled.retention_days)


def test_an_active_job_has_no_expiry(user, sent):
    job = planned_job(user)

    assert (job.status, job.expires_at) == (JobStatus.RUNNING, None)


def test_a_job_keeps_the_retention_it_asked_for(user, sent):
    job = _finished(user, days_ago=0, retention_days=7)

    assert job.expires_at == job.finished_at + timedelta(days=7)


def test_more_days_than_the_servers_maximum_are_refused(user, settings):
    settings.BULKYARD_RETENTION_MAX_DAYS = 90

    with pytest.raises(services.InvalidJobRequest) as refused:
        created_job(user, b'{"n": 1}\n', retention_days=91)

    assert refused.value.code == "invalid_retention_days"
    assert not Job.objects.exists()


def test_with_retention_days_0_jobs_are_kept_forever(user, sent, settings):
    settings.BULKYARD_RETENTION_DAYS = settings.BULKYARD_RETENTION_MAX_DAYS = 0

    job = _finished(user, days_ago=0)

    assert (job.retention_days, job.expires_at) == (None, None)


def test_a_retry_is_kept_as_long_as_the_job_it_retries(user, sent):
    job = _finished(user, days_ago=0, retention_days=3)

    retry, _ = services.job_retry_failed(job=job, owner=user)

    assert retry.retention_days == 3


def test_retention_deletes_old_jobs_and_their_files_and_keeps_new_ones(user, sent, any_storage):
    old = _finished(user, days_ago=40)
    old_files = _with_files(old)
    EmailDelivery.objects.create(job=old, item_number=1, recipient="a@example.com", message_id="m")
    CallbackDelivery.objects.create(job=old, url="https://example.com/done", secret="whsec_x")
    new = _finished(user, days_ago=1)
    new_files = _with_files(new)
    active = planned_job(user)
    old_bytes = sum(default_storage.size(name) for name in old_files)

    report = services.jobs_purge()

    assert (report.jobs, report.files, report.complete) == (1, 4, True)
    assert report.bytes == old_bytes
    assert set(Job.objects.values_list("pk", flat=True)) == {new.pk, active.pk}
    for model in (Chunk, ItemResult, JobAttachment, EmailDelivery, CallbackDelivery):
        assert not model.objects.filter(job_id=old.pk).exists(), model
    assert not any(default_storage.exists(name) for name in old_files)
    assert all(default_storage.exists(name) for name in new_files)
    assert ItemResult.objects.filter(job=new).count() == 5


def test_a_purge_on_s3_leaves_no_object_of_the_job(user, sent, s3_storage):
    old = _finished(user, days_ago=40)
    _with_files(old)
    # A file in the job's attachments folder whose row was never saved.
    s3_storage.save(f"jobs/{old.owner_id}/attachments/{old.pk}/orphan.pdf", ContentFile(b"o"))
    new = _finished(user, days_ago=1)
    kept = _with_files(new)

    report = services.jobs_purge()

    assert (report.jobs, report.files) == (1, 5)
    assert s3.keys(s3_storage) == sorted(kept)


def test_a_job_with_more_results_than_one_slice_goes_in_several_deletes(user, sent, settings):
    settings.BULKYARD_RETENTION_BATCH_ROWS = 4
    job = _finished(user, days_ago=40, items=25)
    assert ItemResult.objects.filter(job=job).count() == 25

    with CaptureQueriesContext(connection) as queries:
        report = services.jobs_purge()

    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "bulkyard_jobs_itemresult"')
    ]
    assert len(deletes) >= 7  # 25 rows, 4 at a time
    assert report.rows["bulkyard_jobs.ItemResult"] == 25
    assert not Job.objects.filter(pk=job.pk).exists()


def test_rows_of_a_model_without_a_key_within_the_job_go_in_slices_too(user, sent):
    job = _finished(user, days_ago=40, items=5)
    keyless = retention.Owned(ItemResult, "job", None)

    deleted = list(retention._row_slices(keyless, [job.pk], 2))

    assert deleted == [2, 2, 1]
    assert not ItemResult.objects.filter(job=job).exists()


def test_a_purge_that_stopped_midway_is_finished_by_the_next(user, sent, settings, monkeypatch):
    settings.BULKYARD_RETENTION_BATCH_ROWS = 2
    job = _finished(user, days_ago=40)
    files = _with_files(job)
    slice_delete = retention._delete_rows
    calls = []

    def crash_on_third_slice(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the worker died")
        return slice_delete(*args, **kwargs)

    monkeypatch.setattr(retention, "_delete_rows", crash_on_third_slice)
    with pytest.raises(RuntimeError):
        services.jobs_purge()
    assert Job.objects.filter(pk=job.pk).exists()  # its files are gone; it still names them
    monkeypatch.setattr(retention, "_delete_rows", slice_delete)

    report = services.jobs_purge()

    assert report.jobs == 1
    assert not ItemResult.objects.filter(job_id=job.pk).exists()
    assert not any(default_storage.exists(name) for name in files)


def test_a_job_whose_files_cannot_be_deleted_is_left_and_the_others_go(user, sent, monkeypatch):
    stuck, other = _finished(user, days_ago=40), _finished(user, days_ago=40)
    stored_delete = retention._stored_delete

    def refuse_the_stuck_jobs_input(storage, name):
        if name == stuck.input_file.name:
            raise PermissionError(name)
        return stored_delete(storage, name)

    monkeypatch.setattr(retention, "_stored_delete", refuse_the_stuck_jobs_input)

    report = services.jobs_purge()

    assert report.jobs == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {stuck.pk}
    assert ItemResult.objects.filter(job=stuck).count() == 5
    assert not Job.objects.filter(pk=other.pk).exists()


def test_a_purge_out_of_time_leaves_the_jobs_for_the_next_run(user, sent):
    job = _finished(user, days_ago=40)

    report = services.jobs_purge(time_budget=0)

    assert (report.jobs, report.complete) == (0, False)
    assert Job.objects.filter(pk=job.pk, lease_token__isnull=True).exists()


def test_a_job_whose_retry_still_runs_is_kept(user, sent):
    job = _finished(user, days_ago=40)
    services.job_retry_failed(job=job, owner=user)

    assert services.jobs_purge().jobs == 0
    assert Job.objects.filter(pk=job.pk).exists()


def test_an_expired_jobs_idempotency_key_makes_a_new_job(user, sent):
    body = b'{"n": 1}\n'
    first, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params={},
        job_input=job_input(body),
        idempotency_key="k1",
    )
    Job.objects.filter(pk=first.pk).update(
        status=JobStatus.SUCCEEDED, expires_at=timezone.now() - timedelta(seconds=1)
    )

    second, created = services.job_create(
        owner=user, kind="test.echo", params={}, job_input=job_input(body), idempotency_key="k1"
    )

    assert created
    assert second.pk != first.pk


def test_the_command_purges_jobs_older_than_asked_whatever_their_expiry(user, sent, settings):
    settings.BULKYARD_RETENTION_MAX_DAYS = 90
    job = _finished(user, days_ago=40, retention_days=90)  # not expired yet
    recent = _finished(user, days_ago=1)

    call_command("purge_jobs", "--older-than-days", "30")

    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk}
    assert not default_storage.exists(job.input_file.name)


def test_the_commands_dry_run_counts_and_deletes_nothing(user, sent, capsys):
    job = _finished(user, days_ago=40)

    call_command("purge_jobs", "--dry-run")

    assert "Would delete 1 job(s) expired" in capsys.readouterr().out
    assert Job.objects.filter(pk=job.pk).exists()


def test_the_migration_gives_finished_jobs_an_expiry_from_their_end(user, sent, settings):
    settings.BULKYARD_RETENTION_DAYS = 30
    job = _finished(user, days_ago=2)
    active = planned_job(user)
    Job.objects.update(retention_days=None, expires_at=None)
    migration = importlib.import_module("bulkyard.jobs.migrations.0014_retention_backfill")

    migration._retention_of_existing_jobs(apps, None)

    job.refresh_from_db()
    active.refresh_from_db()
    assert job.expires_at == job.finished_at + timedelta(days=30)
    assert (active.retention_days, active.expires_at) == (30, None)
