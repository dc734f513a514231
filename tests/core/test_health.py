import pytest

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.integration
def test_health_reports_database_broker_and_workers(anon_client, worker):
    response = anon_client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["broker"]["transport"] == "redis"
    assert worker.name in body["checks"]["workers"]["names"]


def test_health_is_503_when_the_broker_is_unreachable(anon_client, monkeypatch):
    # Port 9 (discard) has no listener here: a real connection attempt fails.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")

    response = anon_client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_unknown_api_url_gets_a_json_404(anon_client, settings):
    settings.DEBUG = False

    response = anon_client.get("/api/v1/jobs/not-a-uuid/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
