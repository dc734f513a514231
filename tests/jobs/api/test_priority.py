"""A job's priority through the API: asked for, refused, shown, filtered."""

import pytest
from django.contrib.auth.models import Permission

from tests.support.jobs import submit_items

pytestmark = pytest.mark.django_db

ITEMS = [{"n": 1}]


def test_a_job_shows_normal_priority_when_none_was_asked(api_client):
    job = submit_items(api_client, ITEMS)

    assert job["priority"] == "normal"


def test_low_priority_needs_no_permission(api_client):
    job = submit_items(api_client, ITEMS, priority="low")

    assert job["priority"] == "low"


def test_high_priority_without_the_permission_is_403_before_a_job_exists(api_client, user):
    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS, "priority": "high"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "priority_not_allowed"
    assert not user.bulk_jobs.exists()


def test_high_priority_with_the_permission_is_accepted(api_client, user):
    user.user_permissions.add(Permission.objects.get(codename="use_high_priority"))

    job = submit_items(api_client, ITEMS, priority="high")

    assert job["priority"] == "high"


def test_an_unknown_priority_is_a_400_naming_the_field(api_client):
    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS, "priority": "urgent"}, format="json"
    )

    assert response.status_code == 400
    assert "priority" in str(response.json()["error"])


def test_the_job_list_filters_by_priority(api_client):
    low = submit_items(api_client, ITEMS, priority="low")
    submit_items(api_client, ITEMS)

    listed = api_client.get("/api/v1/jobs/?priority=low").json()["results"]

    assert [job["id"] for job in listed] == [low["id"]]
