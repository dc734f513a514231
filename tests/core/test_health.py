import time

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bulkyard.core import health
from config.celery import app as celery_app
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_reports():
    health._cached = None
    yield
    health._cached = None


@pytest.fixture
def staff_client():
    user = UserFactory(is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.integration
def test_health_reports_database_broker_and_workers_to_staff(staff_client, worker):
    response = staff_client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["broker"]["transport"] == "redis"
    assert worker.name in body["checks"]["workers"]["names"]


@pytest.mark.integration
def test_anyone_sees_the_states_but_no_names_or_errors(anon_client, worker):
    response = anon_client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}, "workers": {"ok": True}},
    }


def test_health_is_503_when_the_broker_is_unreachable(staff_client, monkeypatch):
    # Port 9 (discard) has no listener here: a real connection attempt fails.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")

    response = staff_client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["broker"]["ok"] is False
    assert "error" in body["checks"]["broker"]
    assert body["checks"]["database"]["ok"] is True


def test_unknown_api_url_gets_a_json_404(anon_client, settings):
    settings.DEBUG = False

    response = anon_client.get("/api/v1/jobs/not-a-uuid/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_check_that_does_not_answer_counts_as_down_within_the_deadline(monkeypatch):
    def hangs():
        time.sleep(10)
        return {}

    started = time.monotonic()
    checks = health._run_side_by_side({"slow": hangs, "fast": dict})

    assert time.monotonic() - started < health.DEADLINE_SECONDS + 0.5
    assert checks["slow"] == {"ok": False, "error": "no answer within 2.5 s"}
    assert checks["fast"]["ok"] is True


def test_staff_see_a_reachable_mail_server(staff_client, smtp_port):
    assert staff_client.get("/health/").json()["mail_server"] == "reachable"


def test_staff_see_an_unreachable_mail_server_which_leaves_the_status_alone(
    staff_client, closed_smtp_port, settings
):
    reachable = staff_client.get("/health/").json()["status"]
    health._cached = None

    body = staff_client.get("/health/").json()

    assert body["mail_server"] == "unreachable"
    assert body["status"] == reachable


def test_staff_see_a_mail_backend_without_a_server_as_not_used(staff_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    assert staff_client.get("/health/").json()["mail_server"] == "not_used"


def test_anyone_else_is_not_told_about_the_mail_server(anon_client, closed_smtp_port):
    assert "mail_server" not in anon_client.get("/health/").json()
