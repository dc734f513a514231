"""email.send at submission: accepted either way, with a warning while the
mail server cannot be reached."""

import pytest

from bulkyard.jobs.models import Job

pytestmark = pytest.mark.django_db

BODY = {
    "kind": "email.send",
    "items": [{"email": "ada@example.com", "name": "Ada"}],
    "params": {"subject": "Hi {{ name }}", "text": "Hello {{ name }}"},
}


def test_an_unreachable_mail_server_is_a_warning_not_a_refusal(api_client, closed_smtp_port):
    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    assert response.status_code == 202
    [warning] = response.json()["warnings"]
    assert warning["code"] == "mail_server_unreachable"
    assert warning["message"].startswith("the mail server cannot be reached now")
    assert Job.objects.filter(pk=response.json()["id"]).exists()


def test_the_warning_keeps_the_mail_servers_address_from_users(api_client, closed_smtp_port):
    # Where the mail server is belongs to the operator (staff see it on /health/).
    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    [warning] = response.json()["warnings"]
    assert str(closed_smtp_port) not in warning["message"]
    assert "127.0.0.1" not in warning["message"]


def test_a_reachable_mail_server_gives_no_warning(api_client, smtp_port):
    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    assert response.status_code == 202
    assert response.json()["warnings"] == []


def test_a_backend_without_a_server_gives_no_warning(api_client, closed_smtp_port, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    assert response.json()["warnings"] == []
