"""Completion callbacks (bulkyard/jobs/services/callbacks.py), in-process on the
real database, delivered to the real local HTTP server (``http_server``):
what is accepted, when a delivery is due, what one attempt records."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from bulkyard.jobs import services
from bulkyard.jobs.models import CallbackDelivery, CallbackStatus, Job, JobStatus
from bulkyard.jobs.services import callbacks, finishing, maintenance, planning
from bulkyard.jobs.services.callbacks import CallbackRequest
from tests.support.engine import job_input, planned_job, run_every_chunk

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def _create(user, url, *, secret=SECRET, **fields):
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params={},
        job_input=job_input(b'{"n": 1}\n'),
        callback=CallbackRequest(url=url, secret=secret),
        **fields,
    )
    return job


def _finished(user, url, *, status=JobStatus.SUCCEEDED):
    """A job with a callback, as it looks once it has ended."""
    job = _create(user, url)
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
    return job


def _delivery(job):
    return CallbackDelivery.objects.get(job=job)


def _due_now(job):
    CallbackDelivery.objects.filter(job=job).update(next_attempt_at=timezone.now())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://api.localhost/hook", "loopback"),
        ("http://10.0.0.5/hook", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://user:pass@example.com/hook", "user name or password"),
        ("http://example.com:99999/hook", "Port out of range"),
        ("not a url", "http and https"),
        ("", "required"),
    ],
)
def test_a_url_the_destination_rules_refuse_is_refused_naming_callback_url(user, url, reason):
    with pytest.raises(services.InvalidJobRequest) as caught:
        _create(user, url)

    assert caught.value.code == "invalid_callback"
    assert caught.value.message.startswith("callback.url: ")
    assert reason in caught.value.message
    assert caught.value.details[0]["field"] == "callback.url"
    assert not Job.objects.exists()
    assert not CallbackDelivery.objects.exists()


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("s3cret", "starts with 'whsec_'"),
        ("whsec_not base64!", "not base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
    ],
)
def test_a_secret_that_cannot_sign_is_refused_naming_callback_secret(
    user, http_server, secret, reason
):
    with pytest.raises(services.InvalidJobRequest) as caught:
        _create(user, f"{http_server.url}/webhook", secret=secret)

    assert caught.value.message.startswith("callback.secret: ")
    assert reason in caught.value.message
    assert not Job.objects.exists()


def test_an_internal_address_the_operator_allows_is_accepted(user, http_server):
    job = _create(user, f"{http_server.url}/webhook")

    delivery = _delivery(job)
    assert (delivery.url, delivery.status, delivery.attempts) == (
        f"{http_server.url}/webhook",
        CallbackStatus.PENDING,
        0,
    )


def test_the_same_idempotency_key_with_another_callback_is_another_request(user, http_server):
    _create(user, f"{http_server.url}/one", idempotency_key="k")

    with pytest.raises(services.IdempotencyKeyMismatch):
        _create(user, f"{http_server.url}/two", idempotency_key="k")


def test_the_same_idempotency_key_with_the_same_callback_answers_with_the_first_job(
    user, http_server
):
    first = _create(user, f"{http_server.url}/one", idempotency_key="k")

    assert _create(user, f"{http_server.url}/one", idempotency_key="k") == first


def test_a_callback_is_not_sent_before_its_job_ends(user, http_server):
    _create(user, f"{http_server.url}/webhook")

    assert callbacks.callback_deliver_next() == "idle"
    assert http_server.hits() == []


def test_the_finish_step_wakes_a_worker_for_the_callback_once_committed(
    user, http_server, sent, django_capture_on_commit_callbacks
):
    job = planned_job(user)
    CallbackDelivery.objects.create(job=job, url=f"{http_server.url}/webhook", secret=SECRET)
    run_every_chunk(job)

    with django_capture_on_commit_callbacks(execute=True):
        assert finishing.job_finalize(job_id=str(job.pk)) == "succeeded"

    assert sent["callbacks"] == [0]


def test_cancelling_a_queued_job_wakes_a_worker_for_the_callback(
    user, http_server, sent, django_capture_on_commit_callbacks
):
    job = _create(user, f"{http_server.url}/webhook")

    with django_capture_on_commit_callbacks(execute=True):
        services.job_cancel(job=job)

    assert sent["callbacks"] == [0]
    assert callbacks.callback_deliver_next() == "delivered"


def test_a_job_failed_at_planning_has_its_callback_sent(
    user, http_server, sent, django_capture_on_commit_callbacks
):
    job = _create(user, f"{http_server.url}/webhook")

    with django_capture_on_commit_callbacks(execute=True):
        planning.job_fail(job_id=str(job.pk), code="input_unreadable", message="gone")

    assert sent["callbacks"] == [0]
    assert callbacks.callback_deliver_next() == "delivered"
    assert json.loads(http_server.hits()[0].body)["data"]["error"]["code"] == "input_unreadable"


def test_a_delivery_is_signed_per_standard_webhooks(user, http_server):
    job = _finished(user, f"{http_server.url}/webhook")

    assert callbacks.callback_deliver_next() == "delivered"

    (hit,) = http_server.hits("/webhook")
    assert hit.method == "POST"
    assert Webhook(SECRET).verify(hit.body, hit.headers)["data"]["id"] == str(job.pk)
    assert hit.headers["webhook-id"] == f"msg_{job.pk.hex}"


def test_the_payload_is_the_job_as_the_api_shows_it_in_an_envelope(user, http_server):
    job = _finished(user, f"{http_server.url}/webhook")

    callbacks.callback_deliver_next()

    payload = json.loads(http_server.hits("/webhook")[0].body)
    assert (payload["type"], payload["data"]["status"]) == ("job.finished", "succeeded")
    assert payload["timestamp"] == payload["data"]["finished_at"]
    assert payload["data"]["links"]["self"] == f"/api/v1/jobs/{job.pk}/"
    assert "callback" not in payload["data"]


def test_links_in_the_payload_are_absolute_under_the_public_url(user, http_server, settings):
    settings.BULKYARD_PUBLIC_URL = "https://bulkyard.example.com"
    job = _finished(user, f"{http_server.url}/webhook")

    callbacks.callback_deliver_next()

    links = json.loads(http_server.hits("/webhook")[0].body)["data"]["links"]
    assert links["self"] == f"https://bulkyard.example.com/api/v1/jobs/{job.pk}/"
    assert links["websocket"] == f"wss://bulkyard.example.com/ws/jobs/{job.pk}/"


def test_the_secret_is_in_no_request_it_makes(user, http_server):
    _finished(user, f"{http_server.url}/webhook")

    callbacks.callback_deliver_next()

    (hit,) = http_server.hits("/webhook")
    assert SECRET not in hit.body.decode() + json.dumps(hit.headers)


def test_a_delivered_callback_records_its_answer(user, http_server):
    job = _finished(user, f"{http_server.url}/webhook")

    callbacks.callback_deliver_next()

    delivery = _delivery(job)
    assert delivery.status == CallbackStatus.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None
    assert delivery.lease_token is None


def test_a_delivered_callback_is_not_sent_again(user, http_server):
    _finished(user, f"{http_server.url}/webhook")
    callbacks.callback_deliver_next()

    assert callbacks.callback_deliver_next() == "idle"
    assert len(http_server.hits()) == 1


def test_a_server_error_schedules_another_attempt_after_a_backoff(user, http_server):
    job = _finished(user, f"{http_server.url}/status/500")

    assert callbacks.callback_deliver_next() == "retrying"

    delivery = _delivery(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "the receiver answered 500 Internal Server Error"
    assert delivery.next_attempt_at > delivery.last_attempt_at


def test_a_retry_waits_at_least_as_long_as_the_receivers_retry_after(user, http_server, settings):
    settings.BULKYARD_CALLBACK_RETRY_MAX_SECONDS = 60
    job = _finished(user, f"{http_server.url}/limited/cb?times=1&retry_after=1")

    assert callbacks.callback_deliver_next() == "retrying"

    delivery = _delivery(job)
    assert delivery.last_status_code == 429
    assert delivery.next_attempt_at >= delivery.last_attempt_at + timedelta(seconds=1)


def test_an_attempt_is_not_made_before_its_backoff_ends(user, http_server):
    job = _finished(user, f"{http_server.url}/status/503")
    callbacks.callback_deliver_next()
    CallbackDelivery.objects.filter(job=job).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert callbacks.callback_deliver_next() == "idle"
    assert len(http_server.hits()) == 1


def test_every_attempt_sends_the_same_id_and_body(user, http_server):
    job = _finished(user, f"{http_server.url}/flaky/cb?fail=1")
    callbacks.callback_deliver_next()
    _due_now(job)

    assert callbacks.callback_deliver_next() == "delivered"

    first, second = http_server.hits("/flaky")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert _delivery(job).attempts == 2


def test_a_refusal_of_the_receiver_fails_the_callback_at_once(user, http_server):
    job = _finished(user, f"{http_server.url}/status/410")

    assert callbacks.callback_deliver_next() == "failed"

    delivery = _delivery(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)


def test_a_redirect_is_not_followed(user, http_server):
    job = _finished(user, f"{http_server.url}/redirect?to={http_server.url}/webhook")

    assert callbacks.callback_deliver_next() == "failed"

    assert _delivery(job).last_error.endswith("redirects are not followed")
    assert http_server.hits("/webhook") == []


def test_a_callback_fails_once_its_attempts_are_used_up(user, http_server, settings):
    settings.BULKYARD_CALLBACK_MAX_ATTEMPTS = 2
    job = _finished(user, f"{http_server.url}/status/502")
    callbacks.callback_deliver_next()
    _due_now(job)

    assert callbacks.callback_deliver_next() == "failed"

    delivery = _delivery(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 502)


def test_a_destination_refused_when_resolved_fails_without_a_connection(user, canary):
    # As a name that resolved to an internal address at delivery would be:
    # the row is written directly, past the check at creation.
    job = _finished(user, "https://example.com/hook")
    CallbackDelivery.objects.filter(job=job).update(url=f"http://127.0.0.1:{canary.port}/hook")

    assert callbacks.callback_deliver_next() == "failed"

    delivery = _delivery(job)
    assert "loopback" in delivery.last_error
    assert delivery.last_status_code is None
    assert canary.hits() == 0


def test_a_callback_being_sent_is_not_taken_by_another_worker(user, http_server):
    job = _finished(user, f"{http_server.url}/webhook")
    CallbackDelivery.objects.filter(job=job).update(
        status=CallbackStatus.SENDING, lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert callbacks.callback_deliver_next() == "idle"
    assert http_server.hits() == []


def test_a_callback_whose_worker_died_is_sent_again_once_its_lease_ran_out(user, http_server):
    job = _finished(user, f"{http_server.url}/webhook")
    CallbackDelivery.objects.filter(job=job).update(
        status=CallbackStatus.SENDING,
        attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert callbacks.callback_deliver_next() == "delivered"
    assert _delivery(job).attempts == 2


def test_a_last_attempt_whose_worker_died_fails_the_callback(user, http_server, settings):
    settings.BULKYARD_CALLBACK_MAX_ATTEMPTS = 1
    job = _finished(user, f"{http_server.url}/webhook")
    CallbackDelivery.objects.filter(job=job).update(
        status=CallbackStatus.SENDING,
        attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert callbacks.callback_deliver_next() == "idle"

    delivery = _delivery(job)
    assert delivery.status == CallbackStatus.FAILED
    assert delivery.last_error == "attempt 1 lost its worker; no attempt is left"
    assert http_server.hits() == []


def test_an_outcome_is_not_recorded_by_a_worker_that_lost_its_lease(user, http_server, monkeypatch):
    job = _finished(user, f"{http_server.url}/webhook")
    send = callbacks._send

    def taken_over_meanwhile(claimed):
        attempt = send(claimed)
        CallbackDelivery.objects.filter(job=job).update(lease_token=None)
        return attempt

    monkeypatch.setattr(callbacks, "_send", taken_over_meanwhile)

    assert callbacks.callback_deliver_next() == "skipped"
    assert _delivery(job).status == CallbackStatus.SENDING


def test_the_sweeper_wakes_a_worker_for_a_callback_whose_wakeup_was_lost(
    user, http_server, sent, monkeypatch
):
    _finished(user, f"{http_server.url}/webhook")
    monkeypatch.setattr(maintenance.dispatch, "waiting_wakeups", lambda queues: {})

    assert maintenance.sweep_stalled_work().wakeups == {"bulkyard": 1}
    assert sent == {"callbacks": [0]}


def test_a_retry_of_failed_items_reports_to_the_same_receiver(user, http_server):
    job = planned_job(user, params={"fail_items": [1]})
    CallbackDelivery.objects.create(job=job, url=f"{http_server.url}/webhook", secret=SECRET)
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))

    retry, _ = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=user)

    delivery = _delivery(retry)
    assert (delivery.url, delivery.secret, delivery.status) == (
        f"{http_server.url}/webhook",
        SECRET,
        CallbackStatus.PENDING,
    )
