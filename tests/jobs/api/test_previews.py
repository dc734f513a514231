"""POST /api/v1/jobs/preview/: a dry run of a request's first rows."""

import io

import pytest
from django.core.cache import cache

from bulkyard.jobs.models import Job
from bulkyard.jobs.throttling import JobCreateThrottle
from tests.support.jobs import may_use_contacts

pytestmark = pytest.mark.django_db

URL = "/api/v1/jobs/preview/"
CSV = b"email,name,age\nada@example.com,Ada,36\nbob@example.com,Bob,old\n"


@pytest.fixture(autouse=True)
def _importer(user):
    may_use_contacts(user)


def _upload(api_client, content=CSV, **fields):
    upload = io.BytesIO(content)
    upload.name = "contacts.csv"
    body = {"kind": "data.import", "params": '{"target": "contacts"}', "file": upload, **fields}
    return api_client.post(URL, body, format="multipart")


def test_a_file_is_previewed_with_each_rows_line_and_errors(api_client):
    response = _upload(api_client)

    assert response.status_code == 200
    body = response.json()
    assert body["invalid_rows"] == 1
    assert [(row["line"], row["valid"]) for row in body["rows"]] == [(2, True), (3, False)]
    assert body["rows"][1]["errors"][0]["code"] == "invalid_value"
    assert body["rows"][1]["values"]["age"] == "old"
    assert not Job.objects.exists()


def test_inline_items_are_previewed_as_lines_of_json(api_client):
    items = [{"email": "ada@example.com"}, {"email": "nope"}]
    body = {"kind": "data.import", "params": {"target": "contacts"}, "items": items, "rows": 1}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 200
    assert [row["line"] for row in response.json()["rows"]] == [1]


def test_a_kind_without_a_preview_is_400_preview_not_offered(api_client):
    body = {"kind": "test.echo", "items": [{"a": 1}]}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "preview_not_offered"


def test_more_than_100_rows_is_400(api_client):
    response = _upload(api_client, rows=101)

    assert response.status_code == 400


def test_a_preview_needs_credentials(anon_client):
    response = anon_client.post(URL, {"kind": "data.import"}, format="json")

    assert response.status_code == 401


def test_a_target_the_user_may_not_use_is_403(other_client):
    response = _upload(other_client)

    assert response.status_code == 403


def test_previews_count_against_the_job_creation_rate(api_client, monkeypatch):
    cache.clear()
    rates = {**JobCreateThrottle.THROTTLE_RATES, "job_create": "2/min"}
    monkeypatch.setattr(JobCreateThrottle, "THROTTLE_RATES", rates)
    try:
        codes = [_upload(api_client).status_code for _ in range(2)]
        submitted = api_client.post(
            "/api/v1/jobs/", {"kind": "test.echo", "items": [{"a": 1}]}, format="json"
        )
    finally:
        cache.clear()

    assert codes == [200, 200]
    assert submitted.status_code == 429


def test_the_kinds_list_gives_example_params_and_whether_a_preview_is_offered(api_client):
    kinds = {kind["name"]: kind for kind in api_client.get("/api/v1/kinds/").json()}

    assert kinds["data.import"]["offers_preview"] is True
    assert kinds["data.import"]["example_params"]["target"] == "contacts"
    assert kinds["text.stats"]["offers_preview"] is False
