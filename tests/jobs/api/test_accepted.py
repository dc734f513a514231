"""The 202 of a submission: the job, and the warnings its kind gives."""

import pytest

from bulkyard.jobs.services import finishing, planning
from tests.support.engine import created_job, run_every_chunk

pytestmark = pytest.mark.django_db


def _submit(client, **params):
    return client.post(
        "/api/v1/jobs/",
        {"kind": "test.echo", "items": [{"n": 1}], "params": params},
        format="json",
    )


def test_a_job_without_warnings_is_accepted_with_an_empty_list(api_client):
    response = _submit(api_client)

    assert response.status_code == 202
    assert response.json()["warnings"] == []


def test_a_kinds_warning_is_in_the_202_and_the_job_is_accepted(api_client):
    response = _submit(api_client, warning="the moon is full")

    assert response.status_code == 202
    assert response.json()["warnings"] == [{"code": "test_warning", "message": "the moon is full"}]
    assert response.json()["status"] == "queued"


def test_a_replayed_submission_warns_again(api_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "warn-twice"}
    body = {"kind": "test.echo", "items": [{"n": 1}], "params": {"warning": "careful"}}
    api_client.post("/api/v1/jobs/", body, format="json", **headers)

    replayed = api_client.post("/api/v1/jobs/", body, format="json", **headers)

    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert [w["code"] for w in replayed.json()["warnings"]] == ["test_warning"]


def test_a_job_read_later_has_no_warnings_field(api_client):
    created = _submit(api_client, warning="careful").json()

    assert "warnings" not in api_client.get(created["url"]).json()


def test_a_retry_warns_as_its_kind_says(api_client, user, sent):
    job = created_job(user, b'{"n": 1}\n', params={"fail_items": [1], "warning": "careful"})
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    response = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")

    assert response.status_code == 202
    assert response.json()["retry_of"] == str(job.pk)
    assert [w["code"] for w in response.json()["warnings"]] == ["test_warning"]
