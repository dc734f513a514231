"""The purge beat sends, run by a real Celery worker process."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from bulkyard.jobs import tasks
from bulkyard.jobs.models import Job
from tests.support.jobs import submit_items, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_beat_purge_deletes_an_expired_job_and_its_input_in_a_worker(api_client, worker):
    done = wait_for_job(submit_items(api_client, [{"n": 1}])["id"])
    kept = wait_for_job(submit_items(api_client, [{"n": 2}])["id"])
    Job.objects.filter(pk=done.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert default_storage.exists(done.input_file.name)

    tasks.purge_expired_jobs.delay()

    wait_until(lambda: not Job.objects.filter(pk=done.pk).exists(), message="the purge")
    assert not default_storage.exists(done.input_file.name)
    assert Job.objects.filter(pk=kept.pk).exists()
