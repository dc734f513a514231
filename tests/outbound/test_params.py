"""Bad params of http.request and webhook.send: a clear 400 before any job exists."""

import pytest

from bulkyard.jobs.models import Job

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "a" * 44  # base64 of 33 bytes


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("http.request", {"concurrency": 100_000}, "concurrency"),
        ("http.request", {"max_body_bytes": 10**12}, "max_body_bytes"),
        ("http.request", {"total_timeout": 0}, "total_timeout"),
        ("http.request", {"max_attempts": 0}, "max_attempts"),
        ("http.request", {"headers": {"X-A": "a\r\nX-Injected: 1"}}, "headers"),
        ("http.request", {"headers": {"X-A": "a\vb"}}, "headers"),
        ("http.request", {"headers": {"Host": "evil.example"}}, "headers"),
        ("http.request", {"request": {"url": "ftp://example.com/{id}"}}, "request.url"),
        ("http.request", {"request": {"url": "https://x.example/", "bogus": 1}}, "request.bogus"),
        ("http.request", {"surprise": True}, "surprise"),
        ("webhook.send", {"url": "https://hooks.example/"}, "secret"),
        ("webhook.send", {"url": "https://hooks.example/", "secret": "plain"}, "secret"),
        ("webhook.send", {"secret": SECRET}, "url"),
        ("webhook.send", {"url": "http://10.0.0.5/hook", "secret": SECRET}, "url"),
    ],
)
def test_bad_params_are_refused_naming_the_field(api_client, kind, params, field):
    response = api_client.post(
        "/api/v1/jobs/", {"kind": kind, "items": [{"id": 1}], "params": params}, format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_params"
    assert field in error["message"]
    assert not Job.objects.exists()
