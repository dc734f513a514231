"""API paths without their trailing slash (bulkyard/core/slashes.py)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_post_without_the_trailing_slash_submits_the_job(api_client, user):
    response = api_client.post(
        "/api/v1/jobs", {"kind": "test.echo", "items": [{"n": 1}]}, format="json"
    )

    assert response.status_code == 202
    assert user.bulk_jobs.count() == 1


def test_a_get_without_the_trailing_slash_is_answered_not_redirected(api_client):
    response = api_client.get("/api/v1/kinds")

    assert response.status_code == 200
    assert any(kind["name"] == "test.echo" for kind in response.json())


def test_an_unknown_api_path_without_a_slash_is_still_a_json_404(api_client):
    response = api_client.post("/api/v1/nothing-here", {}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_pages_keep_djangos_redirect_to_the_slashed_path(client):
    response = client.get("/jobs")

    assert response.status_code == 301
    assert response["Location"] == "/jobs/"
