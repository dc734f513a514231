"""A job's retention through the API: asked for, refused, shown, and an
expired job gone for its owner before the purge has run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulkyard.jobs.models import Job, JobStatus
from tests.support.jobs import submit_items

pytestmark = pytest.mark.django_db

ITEMS = [{"n": 1}]


def test_a_job_shows_the_servers_retention_and_no_expiry_while_active(api_client, settings):
    settings.BULKYARD_RETENTION_DAYS = 30

    job = submit_items(api_client, ITEMS)

    assert (job["retention_days"], job["expires_at"]) == (30, None)


def test_a_job_may_ask_for_fewer_days(api_client):
    job = submit_items(api_client, ITEMS, retention_days=2)

    assert job["retention_days"] == 2


def test_retention_days_over_the_maximum_is_a_400_before_a_job_exists(api_client, user, settings):
    settings.BULKYARD_RETENTION_MAX_DAYS = 30

    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS, "retention_days": 31}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_retention_days"
    assert not user.bulk_jobs.exists()


def test_an_expired_job_is_gone_for_its_owner_before_the_purge(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(
        status=JobStatus.SUCCEEDED, expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert api_client.get(f"/api/v1/jobs/{job['id']}/").status_code == 404
    assert api_client.get(f"/api/v1/jobs/{job['id']}/results/").status_code == 404
    assert api_client.get("/api/v1/jobs/").json()["count"] == 0
