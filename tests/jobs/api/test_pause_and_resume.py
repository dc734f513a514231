"""POST /api/v1/jobs/{id}/pause/ and /resume/ (bulkyard/jobs/api/views.py):
answers, conflicts and the job's representation while it is paused. Another
user's job is a 404 like every job URL (test_views.py)."""

import pytest

from bulkyard.jobs.models import Job, JobStatus
from tests.support.jobs import submit_items

pytestmark = pytest.mark.django_db

ITEMS = [{"n": 1}, {"n": 2}]


def test_pause_answers_the_paused_job_with_when_it_was_paused(api_client):
    job = submit_items(api_client, ITEMS)

    response = api_client.post(f"/api/v1/jobs/{job['id']}/pause/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "paused"
    assert body["paused_at"] is not None
    assert body["paused_seconds"] >= 0
    assert body["links"]["resume"].endswith(f"/api/v1/jobs/{job['id']}/resume/")


def test_pausing_a_paused_job_answers_it_unchanged(api_client):
    job = submit_items(api_client, ITEMS)
    first = api_client.post(f"/api/v1/jobs/{job['id']}/pause/").json()

    response = api_client.post(f"/api/v1/jobs/{job['id']}/pause/")

    assert response.status_code == 200
    assert response.json()["paused_at"] == first["paused_at"]


def test_pausing_a_finished_job_is_409_in_the_error_shape(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(status=JobStatus.SUCCEEDED)

    response = api_client.post(f"/api/v1/jobs/{job['id']}/pause/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_finished"


def test_resume_answers_the_job_going_on(api_client):
    job = submit_items(api_client, ITEMS)
    api_client.post(f"/api/v1/jobs/{job['id']}/pause/")

    response = api_client.post(f"/api/v1/jobs/{job['id']}/resume/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["paused_at"]) == ("queued", None)


def test_resuming_a_job_being_cancelled_is_409(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(status=JobStatus.CANCELLING)

    response = api_client.post(f"/api/v1/jobs/{job['id']}/resume/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_cancelling"


def test_paused_jobs_can_be_listed_by_status(api_client):
    paused, _ = submit_items(api_client, ITEMS), submit_items(api_client, ITEMS)
    api_client.post(f"/api/v1/jobs/{paused['id']}/pause/")

    listed = api_client.get("/api/v1/jobs/?status=paused").json()

    assert [job["id"] for job in listed["results"]] == [paused["id"]]
