"""404s: a styled page for people (templates/404.html), the JSON error shape
for the API."""

import pytest

pytestmark = pytest.mark.django_db


def test_another_users_job_page_is_a_styled_404(browser_client, other_client):
    theirs = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    response = browser_client.get(f"/jobs/{theirs['id']}/")

    page = response.content.decode()
    assert response.status_code == 404
    assert 'id="not-found"' in page
    assert "/static/bulkyard/site.css" in page
    assert '<a class="button" href="/jobs/">My jobs</a>' in page


def test_an_unknown_page_is_a_styled_404_offering_a_log_in(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert 'id="not-found"' in response.content.decode()
    assert 'href="/accounts/login/">Log in</a>' in response.content.decode()


def test_another_users_job_in_the_api_keeps_the_json_error(api_client, other_client):
    theirs = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    response = api_client.get(f"/api/v1/jobs/{theirs['id']}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_api_path_keeps_the_json_error(api_client):
    response = api_client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
