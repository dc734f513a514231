"""The import's key ledger: cleared by the kind's cleanup, or purged with its job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulkyard.data.models import ImportKey
from bulkyard.data.services import import_ledger_clear
from bulkyard.jobs import registry
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.services import jobs_purge

pytestmark = pytest.mark.django_db


def _finished_import(user) -> Job:
    job = Job.objects.create(
        owner=user,
        kind="data.import",
        input_format="csv",
        chunk_size=10,
        status=JobStatus.SUCCEEDED,
        finished_at=timezone.now() - timedelta(days=2),
    )
    ImportKey.objects.bulk_create(
        [ImportKey(job=job, key=f"k{n}@example.com", line=n + 2) for n in range(3)]
    )
    return job


def test_the_imports_cleanup_clears_its_own_ledger_only(user):
    job, other = _finished_import(user), _finished_import(user)

    registry.get("data.import").cleanup(str(job.pk))

    assert not ImportKey.objects.filter(job=job).exists()
    assert ImportKey.objects.filter(job=other).count() == 3
    assert import_ledger_clear(job_id=str(job.pk)) == 0  # safe to run twice


def test_a_ledger_its_cleanup_never_cleared_goes_with_the_purged_job(user):
    job = _finished_import(user)

    assert jobs_purge(finished_before=timezone.now() - timedelta(days=1)).jobs == 1

    assert not Job.objects.filter(pk=job.pk).exists()
    assert not ImportKey.objects.filter(job_id=job.pk).exists()


def test_a_ledger_bigger_than_one_slice_goes_in_ranges_of_its_keys(user, settings):
    settings.BULKYARD_RETENTION_BATCH_ROWS = 2
    job = _finished_import(user)  # 3 keys

    report = jobs_purge(finished_before=timezone.now() - timedelta(days=1))

    assert report.rows["bulkyard_data.ImportKey"] == 3
    assert not ImportKey.objects.filter(job_id=job.pk).exists()
