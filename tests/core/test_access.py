"""Each request: an X-Request-ID, one access log line, its latency counted."""

import json
import logging

import pytest

from bulkyard.core.logs import formatter
from tests.support.metrics import scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def access_log(caplog):
    caplog.set_level(logging.INFO, logger="bulkyard.access")
    return caplog


class _Lines(logging.Handler):
    """Lines as the JSON handler writes them, formatted while they are logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter(json=True))
        self.formatted: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.formatted.append(self.format(record))


def _access_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bulkyard.access"]


def test_a_response_carries_a_new_request_id(anon_client):
    response = anon_client.get("/api/v1/kinds/")

    assert len(response["X-Request-ID"]) == 32


def test_the_clients_request_id_is_echoed(anon_client):
    response = anon_client.get("/api/v1/kinds/", HTTP_X_REQUEST_ID="client-req-0001")

    assert response["X-Request-ID"] == "client-req-0001"


def test_one_access_line_names_the_request_its_route_status_user_and_duration(
    api_client, user, access_log
):
    job_id = "0b5c7c8e-3f0e-4e55-9d0a-5c7d0f6a1b2c"

    response = api_client.get(
        f"/api/v1/jobs/{job_id}/?token=secret", HTTP_X_REQUEST_ID="req-12345678"
    )

    (record,) = _access_records(access_log)
    assert response.status_code == 404
    assert (record.method, record.path, record.route, record.status, record.user_id) == (
        "GET",
        f"/api/v1/jobs/{job_id}/",
        "/api/v1/jobs/<uuid:job_id>/",
        404,
        user.pk,
    )
    assert record.duration_ms > 0
    assert "secret" not in record.getMessage()


def test_log_lines_during_a_request_carry_its_request_id(api_client, access_log):
    lines = _Lines()
    logging.getLogger("bulkyard.access").addHandler(lines)
    try:
        api_client.get("/api/v1/kinds/", HTTP_X_REQUEST_ID="req-abcdefgh")
    finally:
        logging.getLogger("bulkyard.access").removeHandler(lines)

    (line,) = lines.formatted
    assert json.loads(line)["request_id"] == "req-abcdefgh"


def test_a_requests_query_string_stays_out_of_every_line(api_client):
    lines = _Lines()
    logging.getLogger().addHandler(lines)
    try:
        api_client.get("/api/v1/no-such-thing/?token=secret-4b1c")
    finally:
        logging.getLogger().removeHandler(lines)

    assert lines.formatted
    assert not any("secret-4b1c" in line for line in lines.formatted)


def test_a_password_reset_links_token_is_masked_in_the_access_line(anon_client, access_log):
    anon_client.get("/accounts/reset/MQ/c4bs2k-0123456789abcdef0123456789abcdef/")

    (record,) = _access_records(access_log)
    assert record.path == "/accounts/reset/MQ/••••••/"
    assert "0123456789abcdef" not in record.getMessage()


def test_the_access_line_can_be_turned_off(anon_client, access_log, settings):
    settings.BULKYARD_ACCESS_LOG = False

    anon_client.get("/api/v1/kinds/")

    assert _access_records(access_log) == []


def test_requests_are_counted_by_route_method_and_status(api_client, settings):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"
    scraper = type(api_client)()
    scraper.credentials(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
    labels = {"route": "/api/v1/kinds/", "method": "GET", "status": "200"}
    before = value(scrape(scraper), "bulkyard_http_requests_total", **labels)

    api_client.get("/api/v1/kinds/")
    api_client.get("/api/v1/kinds/")

    assert value(scrape(scraper), "bulkyard_http_requests_total", **labels) - before == 2


def test_unknown_paths_share_one_route_label(api_client, settings):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"
    scraper = type(api_client)()
    scraper.credentials(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")

    api_client.get("/no-such-page-4b1c/")

    routes = {
        dict(labels).get("route")
        for (name, labels) in scrape(scraper)
        if name == "bulkyard_http_requests_total"
    }
    assert "unmatched" in routes
    assert not any("4b1c" in (route or "") for route in routes)
