"""Quotas with a real Celery worker: a job that ends on a worker frees its
owner's running quota for the next submission."""

import pytest

from bulkyard.jobs.models import JobStatus, UserQuota
from tests.support.jobs import submit_items, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_job_that_ends_on_a_worker_frees_the_running_quota(api_client, user, worker):
    UserQuota.objects.create(user=user, running_jobs=1)
    first = submit_items(api_client, [{"n": n} for n in range(6)], params={"sleep_per_item": 0.5})
    wait_for_job(first["id"], statuses={JobStatus.RUNNING})

    refused = api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": [{}]}, format="json")
    wait_for_job(first["id"])
    accepted = api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": [{}]}, format="json")

    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["quota"] == "running_jobs"
    assert accepted.status_code == 202
