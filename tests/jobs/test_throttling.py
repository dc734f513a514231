"""One job-creation budget per user, whichever way a job comes to exist: the
API's submit and retry endpoints and the web page's upload form."""

import io

import pytest
from django.core.cache import cache

from bulkyard.jobs.models import Job
from bulkyard.jobs.services import finishing, planning
from bulkyard.jobs.throttling import JobCreateThrottle
from tests.support.engine import created_job, run_every_chunk

pytestmark = pytest.mark.django_db

ITEMS = {"kind": "test.echo", "items": [{"n": 1}]}


@pytest.fixture
def budget_of_two(monkeypatch):
    cache.clear()
    rates = {**JobCreateThrottle.THROTTLE_RATES, "job_create": "2/min"}
    monkeypatch.setattr(JobCreateThrottle, "THROTTLE_RATES", rates)
    yield
    cache.clear()


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def _form_post(browser_client, params: str = "{}"):
    upload = io.BytesIO(b'{"n": 1}\n')
    upload.name = "items.jsonl"
    return browser_client.post(
        "/jobs/new/", {"kind": "test.echo", "params": params, "file": upload}
    )


def _finished_with_a_failure(user) -> Job:
    job = created_job(user, b'{"n": 1}\n{"n": 2}\n', params={"fail_items": [2]})
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    return Job.objects.get(pk=job.pk)


def test_the_web_form_spends_the_budget_of_the_api(budget_of_two, api_client, browser_client):
    statuses = [
        api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code,
        _form_post(browser_client).status_code,
        api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code,
    ]

    assert statuses == [202, 302, 429]
    assert Job.objects.count() == 2


def test_the_web_form_is_refused_once_the_api_spent_the_budget(
    budget_of_two, api_client, browser_client
):
    for _ in range(2):
        assert api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code == 202

    response = _form_post(browser_client, params='{"sleep_per_item": 0.5}')

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 120
    page = response.content.decode()
    assert "You are starting jobs faster than allowed" in page
    # The form comes back as it was sent, but for the file.
    assert "sleep_per_item" in page
    assert Job.objects.count() == 2


def test_a_retry_is_refused_while_job_creation_is_throttled(budget_of_two, api_client, user, sent):
    finished = _finished_with_a_failure(user)
    for _ in range(2):
        assert api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code == 202

    response = api_client.post(f"/api/v1/jobs/{finished.pk}/retry/")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert not Job.objects.filter(retry_of=finished).exists()


def test_a_retry_spends_the_budget_of_job_creation(budget_of_two, api_client, user, sent):
    finished = _finished_with_a_failure(user)

    retry = api_client.post(f"/api/v1/jobs/{finished.pk}/retry/")
    statuses = [api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code for _ in "ab"]

    assert retry.status_code == 202
    assert statuses == [202, 429]


def test_reading_a_job_does_not_spend_the_creation_budget(budget_of_two, api_client, user, sent):
    finished = _finished_with_a_failure(user)
    for _ in range(3):
        assert api_client.get(f"/api/v1/jobs/{finished.pk}/").status_code == 200
        assert api_client.get(f"/api/v1/jobs/{finished.pk}/retry/").status_code == 405

    statuses = [api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code for _ in "ab"]

    assert statuses == [202, 202]
