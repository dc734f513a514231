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
    assert f"127.0.0.1:{closed_smtp_port}" in warning["message"]
    assert "EMAIL_HOST" in warning["message"]
    assert Job.objects.filter(pk=response.json()["id"]).exists()


def test_a_reachable_mail_server_gives_no_warning(api_client, smtp_port):
    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    assert response.status_code == 202
    assert response.json()["warnings"] == []


def test_a_backend_without_a_server_gives_no_warning(api_client, closed_smtp_port, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    response = api_client.post("/api/v1/jobs/", BODY, format="json")

    assert response.json()["warnings"] == []
