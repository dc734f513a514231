"""Outages answer 503 in the API's error shape, never 500."""

import psycopg
import pytest
from django.test import RequestFactory

from bulkyard.core.exceptions import exception_handler
from bulkyard.core.views import server_error
from bulkyard.jobs.models import Job


def _refused() -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("postgres://postgres@127.0.0.1:1/none", connect_timeout=2)
    return caught.value


def test_an_api_view_meeting_an_outage_answers_503_with_retry_after():
    response = exception_handler(_refused(), {})

    assert response.status_code == 503
    assert response.data["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"


def test_other_unexpected_errors_are_left_to_become_500s():
    assert exception_handler(RuntimeError("bug"), {}) is None


@pytest.mark.parametrize(
    ("path", "content_type"), [("/api/v1/jobs/", "application/json"), ("/jobs/", "text/plain")]
)
def test_a_page_meeting_an_outage_answers_503(path, content_type):
    request = RequestFactory().get(path)
    try:
        raise _refused()
    except psycopg.OperationalError:
        response = server_error(request)

    assert response.status_code == 503
    assert response["Content-Type"].startswith(content_type)
    assert response["Retry-After"] == "5"


def test_a_page_meeting_a_bug_still_answers_500():
    request = RequestFactory().get("/api/v1/jobs/")
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        response = server_error(request)

    assert response.status_code == 500


@pytest.mark.django_db
def test_a_job_submitted_while_the_object_store_is_away_answers_503_and_stores_nothing(
    api_client, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "bulkyard.core.storage.s3.BulkyardS3Storage",
            "OPTIONS": {
                "bucket_name": "any",
                "endpoint_url": "http://127.0.0.1:1",
                "region_name": "us-east-1",
                "access_key": "x",
                "secret_key": "x",
            },
        },
    }

    response = api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": [{"n": 1}]})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    assert not Job.objects.exists()
