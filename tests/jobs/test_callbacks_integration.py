"""Completion callbacks end to end: the API, a real worker (with its beat, which
runs the sweeper that sends retries) and a real receiver in the test process
(allow-listed for the test), whose every request is checked with the reference
Standard Webhooks library."""

import base64
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from bulkyard.jobs.models import CallbackDelivery, CallbackStatus
from tests.support.jobs import submit_items, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()


def _delivery_ended(job_id: str) -> CallbackDelivery:
    def ended() -> bool:
        status = CallbackDelivery.objects.values_list("status", flat=True).get(job_id=job_id)
        return status in (CallbackStatus.DELIVERED, CallbackStatus.FAILED)

    wait_until(ended, message="the end of the callback's delivery")
    return CallbackDelivery.objects.get(job_id=job_id)


def test_a_callback_is_received_once_with_a_valid_signature(api_client, worker, http_server):
    submitted = submit_items(
        api_client,
        [{"n": 1}, {"n": 2}],
        params={"fail_items": [2]},
        callback={"url": f"{http_server.url}/webhook/done", "secret": SECRET},
    )

    job = wait_for_job(submitted["id"])
    delivery = _delivery_ended(submitted["id"])

    assert (delivery.status, delivery.attempts) == (CallbackStatus.DELIVERED, 1)
    (hit,) = http_server.hits("/webhook/done")
    payload = Webhook(SECRET).verify(hit.body, hit.headers)
    assert payload["type"] == "job.finished"
    assert payload["data"]["id"] == str(job.pk)
    assert (payload["data"]["status"], payload["data"]["failed_items"]) == (
        "completed_with_errors",
        1,
    )


def test_a_receiver_that_first_answers_500_gets_the_callback_once(api_client, worker, http_server):
    path = f"/flaky/{uuid.uuid4().hex}"
    submitted = submit_items(
        api_client,
        [{"n": 1}],
        callback={"url": f"{http_server.url}{path}?fail=1", "secret": SECRET},
    )

    delivery = _delivery_ended(submitted["id"])

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        CallbackStatus.DELIVERED,
        2,
        200,
    )
    first, second = http_server.hits(path)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert Webhook(SECRET).verify(second.body, second.headers)["data"]["id"] == submitted["id"]
