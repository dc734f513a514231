"""The ``callback`` of a job in the API (bulkyard/jobs/api/callbacks.py): given
as an object or a multipart JSON string, refused with a 400 naming its field,
shown with its delivery and never with its secret. No worker: nothing is sent."""

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bulkyard.core.secrets import MASK
from bulkyard.jobs.models import CallbackDelivery, CallbackStatus, Job
from tests.support.jobs import submit_file, submit_items

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
ITEMS = [{"id": 1}]


def _callback(url: str) -> dict[str, str]:
    return {"url": url, "secret": SECRET}


def test_a_job_is_accepted_with_its_callback_pending(api_client, http_server):
    body = submit_items(api_client, ITEMS, callback=_callback(f"{http_server.url}/hook"))

    assert body["callback"] == {
        "url": f"{http_server.url}/hook",
        "delivery": {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": "",
            "delivered_at": None,
        },
    }


def test_a_job_without_a_callback_shows_none(api_client):
    assert submit_items(api_client, ITEMS)["callback"] is None


def test_a_multipart_request_gives_its_callback_as_a_json_string(api_client, http_server):
    response = submit_file(
        api_client,
        b'{"id": 1}\n',
        name="items.jsonl",
        callback=json.dumps(_callback(f"{http_server.url}/hook")),
    )

    assert response.status_code == 202, response.content
    assert CallbackDelivery.objects.get().url == f"{http_server.url}/hook"


def test_the_secret_is_in_no_answer(api_client, http_server):
    created = api_client.post(
        "/api/v1/jobs/",
        {"kind": "test.echo", "items": ITEMS, "callback": _callback(f"{http_server.url}/hook")},
        format="json",
    )
    job_id = created.json()["id"]

    for response in (
        created,
        api_client.get(f"/api/v1/jobs/{job_id}/"),
        api_client.get("/api/v1/jobs/"),
    ):
        assert SECRET not in response.content.decode()
        assert SECRET[6:] not in response.content.decode()


def test_a_refused_url_is_a_400_naming_callback_url(api_client, canary):
    response = api_client.post(
        "/api/v1/jobs/",
        {
            "kind": "test.echo",
            "items": ITEMS,
            "callback": _callback(f"http://127.0.0.1:{canary.port}/hook"),
        },
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_callback"
    assert error["message"].startswith("callback.url: 127.0.0.1 is a loopback address")
    assert error["details"][0]["field"] == "callback.url"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        ("{not json", "callback: callback must be a JSON object {url, secret}; could not parse"),
        ('["https://example.com"]', "callback: callback must be a JSON object {url, secret}"),
        ('{"url": "https://example.com/h"}', "callback: callback.secret is required"),
        (
            json.dumps({**_callback("https://example.com/h"), "events": ["x"]}),
            "callback: callback takes url and secret only, not events",
        ),
    ],
)
def test_a_callback_of_the_wrong_shape_is_a_400_naming_it(api_client, callback, message):
    response = submit_file(api_client, b'{"id": 1}\n', name="items.jsonl", callback=callback)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)
    assert not Job.objects.exists()


def test_the_detail_shows_how_the_delivery_went(api_client, http_server):
    job_id = submit_items(api_client, ITEMS, callback=_callback(f"{http_server.url}/hook"))["id"]
    now = timezone.now()
    CallbackDelivery.objects.filter(job_id=job_id).update(
        status=CallbackStatus.DELIVERED,
        attempts=2,
        last_attempt_at=now,
        last_status_code=204,
        delivered_at=now,
    )

    delivery = api_client.get(f"/api/v1/jobs/{job_id}/").json()["callback"]["delivery"]

    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "delivered",
        2,
        204,
    )
    assert delivery["delivered_at"] == delivery["last_attempt_at"] is not None


def test_a_retry_shows_when_it_is_due(api_client, http_server):
    job_id = submit_items(api_client, ITEMS, callback=_callback(f"{http_server.url}/hook"))["id"]
    CallbackDelivery.objects.filter(job_id=job_id).update(attempts=1, last_status_code=503)

    delivery = api_client.get(f"/api/v1/jobs/{job_id}/").json()["callback"]["delivery"]

    assert delivery["next_attempt_at"] is not None


def test_secret_looking_query_values_of_the_url_are_masked(api_client, http_server):
    url = f"{http_server.url}/hook?tenant=7&token=t0ps3cret"

    body = submit_items(api_client, ITEMS, callback=_callback(url))

    assert body["callback"]["url"] == f"{http_server.url}/hook?tenant=7&token={MASK}"


def test_the_job_list_reads_callbacks_without_a_query_per_job(api_client, http_server):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get("/api/v1/jobs/").status_code == 200
        return len(queries)

    submit_items(api_client, ITEMS, callback=_callback(f"{http_server.url}/hook"))
    one = list_queries()
    for _ in range(3):
        submit_items(api_client, ITEMS, callback=_callback(f"{http_server.url}/hook"))

    assert list_queries() == one
