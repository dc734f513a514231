"""The pages of a locked-out sign-in and of a refused password reset: they
say when to try again, and how to get help."""

import uuid
from datetime import timedelta

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_locked_out_sign_in_gets_a_page_saying_when_to_retry_and_whom_to_ask(
    client, user, settings
):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=20)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})

    response = client.post(
        "/accounts/login/", {"username": user.username, "password": "secret-password-1"}
    )

    page = response.content.decode()
    assert response.status_code == 429
    assert response["Retry-After"] == str(20 * 60)
    assert "Try again in 20 minutes" in page
    assert "staff" in page
    assert "Unlock sign-in" in page


def test_a_refused_password_reset_gets_a_page_saying_when_to_retry(client, settings):
    settings.BULKYARD_PASSWORD_RESET_RATE_PER_EMAIL = "1/hour"
    email = UserFactory(email=f"{uuid.uuid4().hex}@example.test").email
    # An address of its own: counts outlive the test in the shared test Redis.
    address = f"10.{uuid.uuid4().int % 256}.{uuid.uuid4().int % 256}.9"
    client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)

    response = client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)

    page = response.content.decode()
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Try again in" in page
    assert "No email was sent" in page
