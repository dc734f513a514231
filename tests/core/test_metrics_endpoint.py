"""Who may read /metrics, and a worker's own metrics port."""

import httpx
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bulkyard.core import metrics
from bulkyard.core.metrics_endpoint import worker_metrics_serve
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    user = UserFactory(is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_staff_read_the_metrics_in_prometheus_text(staff_client):
    response = staff_client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"bulkyard_metrics_database_up 1.0" in response.content


def test_a_scraper_asking_for_openmetrics_gets_it(staff_client):
    response = staff_client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text")

    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


def test_anonymous_clients_get_401_in_the_error_shape(anon_client):
    response = anon_client.get("/metrics", HTTP_ACCEPT="text/plain;version=0.0.4")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_users_who_are_not_staff_get_403(api_client):
    response = api_client.get("/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_bearer_token_of_the_settings_reads_them(anon_client, settings):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"

    response = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")

    assert response.status_code == 200


def test_a_wrong_bearer_token_is_refused(anon_client, settings):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"

    response = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-9876543210")

    assert response.status_code == 401


def test_no_token_is_accepted_while_none_is_set(anon_client, settings):
    settings.BULKYARD_METRICS_TOKEN = ""

    response = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 401


def test_clients_of_an_allowed_network_read_them_without_credentials(anon_client, settings):
    settings.BULKYARD_METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16"]

    inside = anon_client.get("/metrics", REMOTE_ADDR="10.20.3.4")
    outside = anon_client.get("/metrics", REMOTE_ADDR="10.21.3.4")

    assert (inside.status_code, outside.status_code) == (200, 401)


def test_the_path_is_not_in_the_api_schema(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/metrics" not in schema["paths"]


@pytest.fixture
def worker_port(settings):
    settings.BULKYARD_METRICS_TOKEN = "worker-token-0123456789"
    server = worker_metrics_serve(host="127.0.0.1", port=0)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_worker_port_serves_the_process_counters_to_the_token(worker_port):
    metrics.SWEEPS.labels("completed")  # a series, if this process had none yet

    response = httpx.get(
        f"{worker_port}/metrics", headers={"Authorization": "Bearer worker-token-0123456789"}
    )

    assert response.status_code == 200
    assert "bulkyard_sweeps_total{" in response.text
    # The database's gauges are the web endpoint's alone: not counted twice.
    assert "bulkyard_metrics_database_up" not in response.text


def test_a_worker_port_refuses_a_scrape_without_the_token(worker_port):
    response = httpx.get(f"{worker_port}/metrics")

    assert response.status_code == 401
