"""Quotas through the API: ``429 quota_exceeded`` on every path that creates
a job (submit, retry), and ``GET /api/v1/me/``."""

import math
from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from bulkyard.jobs.models import Job, UserQuota
from bulkyard.jobs.quotas import day_window
from bulkyard.jobs.services import finishing
from tests.support.engine import planned_job, run_every_chunk
from tests.support.jobs import submit_file

pytestmark = pytest.mark.django_db

ITEMS = {"kind": "test.echo", "items": [{"n": 1}, {"n": 2}]}


def _limit(user, **limits) -> None:
    UserQuota.objects.update_or_create(user=user, defaults=limits)


def test_a_submission_over_a_quota_is_429_naming_the_quota(api_client, user):
    _limit(user, queued_jobs=1)
    assert api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code == 202

    response = api_client.post("/api/v1/jobs/", ITEMS, format="json")

    assert response.status_code == 429
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "queued_jobs" in error["message"]
    assert error["details"] == {
        "quota": "queued_jobs",
        "limit": 1,
        "used": 1,
        "requested": None,
        "resets_at": None,
    }
    assert Job.objects.filter(owner=user).count() == 1


def test_inline_items_over_the_days_remainder_are_429_until_midnight_utc(api_client, user):
    _limit(user, items_per_day=3)
    assert api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code == 202

    response = api_client.post("/api/v1/jobs/", ITEMS, format="json")

    assert response.status_code == 429
    details = response.json()["error"]["details"]
    assert (details["quota"], details["used"], details["requested"]) == ("items_per_day", 2, 2)
    resets_at = datetime.fromisoformat(details["resets_at"])
    assert resets_at == day_window(timezone.now())[1]
    assert (
        1
        <= int(response["Retry-After"])
        <= math.ceil((resets_at - timezone.now()).total_seconds()) + 1
    )


def test_an_upload_over_the_days_bytes_is_429_and_not_stored(api_client, user, settings):
    _limit(user, upload_bytes_per_day=1000)

    response = submit_file(api_client, b"n\n" + b"1\n" * 600, name="items.csv")

    assert response.status_code == 429
    assert response.json()["error"]["details"]["quota"] == "upload_bytes_per_day"
    assert not Job.objects.exists()
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.csv"))


def test_a_user_with_nothing_left_is_refused_before_the_request_is_validated(api_client, user):
    _limit(user, running_jobs=1)
    planned_job(user)

    response = api_client.post("/api/v1/jobs/", {"kind": "no.such.kind"}, format="json")

    assert response.status_code == 429
    assert response.json()["error"]["details"]["quota"] == "running_jobs"


def test_a_repeated_idempotency_key_is_answered_even_with_nothing_left(api_client, user):
    _limit(user, queued_jobs=1)
    key = {"HTTP_IDEMPOTENCY_KEY": "batch-1"}
    first = api_client.post("/api/v1/jobs/", ITEMS, format="json", **key)

    again = api_client.post("/api/v1/jobs/", ITEMS, format="json", **key)

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_a_retry_over_a_quota_is_429(api_client, user, sent):
    finished = planned_job(user, items=3, params={"fail_items": [1]})
    run_every_chunk(finished)
    finishing.job_finalize(job_id=str(finished.pk))
    _limit(user, items_per_day=3)

    response = api_client.post(f"/api/v1/jobs/{finished.pk}/retry/")

    assert response.status_code == 429
    assert response.json()["error"]["details"]["quota"] == "items_per_day"
    assert not Job.objects.filter(retry_of=finished).exists()


def test_resuming_a_paused_job_over_a_quota_is_429(api_client, user, sent):
    _limit(user, queued_jobs=1)
    paused = api_client.post("/api/v1/jobs/", ITEMS, format="json").json()
    api_client.post(f"/api/v1/jobs/{paused['id']}/pause/")
    assert api_client.post("/api/v1/jobs/", ITEMS, format="json").status_code == 202

    response = api_client.post(f"/api/v1/jobs/{paused['id']}/resume/")

    assert response.status_code == 429
    assert response.json()["error"]["details"]["quota"] == "queued_jobs"
    assert Job.objects.get(pk=paused["id"]).status == "paused"


def test_me_shows_each_quota_with_its_limit_usage_and_reset(api_client, user, sent):
    _limit(user, running_jobs=2, items_per_day=100)
    planned_job(user, items=25)

    response = api_client.get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["username"]) == (user.pk, user.username)
    assert body["quotas"]["running_jobs"] == {
        "limit": 2,
        "used": 1,
        "remaining": 1,
        "resets_at": None,
    }
    items = body["quotas"]["items_per_day"]
    assert (items["limit"], items["used"], items["remaining"]) == (100, 25, 75)
    assert datetime.fromisoformat(items["resets_at"]) == day_window(timezone.now())[1]


def test_me_shows_an_unlimited_quota_as_null(api_client, user):
    _limit(user, queued_jobs=0)

    quota = api_client.get("/api/v1/me/").json()["quotas"]["queued_jobs"]

    assert (quota["limit"], quota["remaining"]) == (None, None)


def test_me_needs_credentials(anon_client):
    assert anon_client.get("/api/v1/me/").status_code == 401


def test_the_schema_documents_me_and_the_quota_refusal(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert "200" in schema["paths"]["/api/v1/me/"]["get"]["responses"]
    refusal = schema["paths"]["/api/v1/jobs/"]["post"]["responses"]["429"]
    examples = refusal["content"]["application/json"]["examples"]
    assert any(e["value"]["error"]["code"] == "quota_exceeded" for e in examples.values())
