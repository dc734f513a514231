"""Filters of the job list (bulkyard/jobs/api/filters.py)."""

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("when", "status"),
    [
        ("0026-06-24T10:20:25+18:22", 200),  # legal ISO 8601, beyond PostgreSQL's offsets
        ("0001-01-01T00:00:00+05:00", 400),  # before year 1 in UTC
        ("not-a-date", 400),
    ],
)
def test_listing_dates_are_normalised_to_utc_or_refused(api_client, when, status):
    response = api_client.get(f"/api/v1/jobs/?created_after={quote(when)}")

    assert response.status_code == status
