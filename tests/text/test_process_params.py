"""Bad params of text.process: a clear 400 before any job exists."""

import pytest

from bulkyard.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": ["clean", "shout"]}, "steps"),
        ({"steps": ["clean", "clean"]}, "each step at most once"),
        ({"clean": {"normalize": "NFD"}}, "clean.normalize"),
        ({"analyse": {"keywords": 1000}}, "analyse.keywords"),
        ({"redact": {"types": ["ssn"]}}, "redact.types"),
        ({"redact": {"phone_region": "XX"}}, "redact.phone_region"),
        ({"transform": {"rules": [{"find": ""}]}}, "transform.rules"),
        ({"transform": {"truncate": 0}}, "transform.truncate"),
        ({"max_document_bytes": 10**12}, "max_document_bytes"),
        ({"format": "xlsx"}, "format"),
    ],
)
def test_bad_params_are_refused_naming_the_problem(api_client, params, field):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "text.process", "items": [{"id": 1, "text": "x"}], "params": params},
        format="json",
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_params"
    assert field in error["message"]
    assert not Job.objects.exists()
