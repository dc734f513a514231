"""http.request and webhook.send end to end: the API, a real worker, a real HTTP
server in the test process (allow-listed for the test) and a canary that no
refused request may reach."""

import base64
import json

import pytest
from standardwebhooks.webhooks import Webhook

from bulkyard.jobs.models import ItemResult, Job, JobStatus
from tests.support.jobs import submit_items, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _run(client, items, *, kind="http.request", chunk_size=50, timeout=60.0, **params) -> Job:
    job = submit_items(client, items, kind=kind, params=params, chunk_size=chunk_size)
    return wait_for_job(job["id"], timeout=timeout)


def _results(job) -> dict[int, ItemResult]:
    return {r.item_number: r for r in ItemResult.objects.filter(job=job)}


def test_requests_succeed_with_status_latency_headers_and_body(api_client, worker, http_server):
    items = [{"method": "GET", "url": f"{http_server.url}/ok?n={n}"} for n in range(20)]

    job = _run(api_client, items)

    assert (job.status, job.succeeded_items) == (JobStatus.SUCCEEDED, 20)
    output = _results(job)[1].output
    assert output["status"] == 200
    assert output["latency_ms"] > 0
    assert json.loads(output["body"])["path"] == "/ok?n=0"
    assert output["headers"]["Content-Type"] == "application/json"
    assert len(http_server.hits("/ok")) == 20


def test_a_template_fills_each_row_and_percent_encodes_values_in_the_url(
    api_client, worker, http_server
):
    items = [{"user": "ada/../admin?x=1", "score": 7}]

    job = _run(
        api_client,
        items,
        request={
            "method": "POST",
            "url": f"{http_server.url}/echo/{{user}}",
            "json": {"name": "{user}", "score": "{score}"},
            "headers": {"X-Row": "{score}"},
        },
    )

    assert job.succeeded_items == 1
    hit = http_server.hits("/echo")[0]
    # One path segment: no traversal, no query ("=" needs no escaping in a path).
    assert hit.path == "/echo/ada%2F..%2Fadmin%3Fx=1"
    assert json.loads(hit.body) == {"name": "ada/../admin?x=1", "score": 7}
    assert hit.headers["X-Row"] == "7"


def test_a_server_error_is_retried_until_it_succeeds(api_client, worker, http_server):
    job = _run(api_client, [{"url": f"{http_server.url}/flaky/a?fail=2"}], max_attempts=3)

    assert job.succeeded_items == 1
    assert _results(job)[1].output["attempts"] == 3
    assert len(http_server.hits("/flaky/a")) == 3


def test_a_server_error_that_lasts_fails_the_request_after_max_attempts(
    api_client, worker, http_server
):
    job = _run(api_client, [{"url": f"{http_server.url}/flaky/b?fail=99"}], max_attempts=2)

    result = _results(job)[1]
    assert (result.outcome, result.code) == ("failed", "http_500")
    assert "after 2 attempts" in result.message
    assert len(http_server.hits("/flaky/b")) == 2


def test_a_client_error_is_final_and_not_retried(api_client, worker, http_server):
    job = _run(api_client, [{"url": f"{http_server.url}/status/404"}], max_attempts=3)

    result = _results(job)[1]
    assert (result.code, result.output["status"]) == ("http_404", 404)
    assert len(http_server.hits("/status/404")) == 1


@pytest.mark.parametrize(
    ("key", "header_case"), [("c", ""), ("e", "&lower=1")], ids=["Retry-After", "retry-after"]
)
def test_429_waits_as_long_as_retry_after_says_whatever_the_case_of_its_name(
    api_client, worker, http_server, key, header_case
):
    job = _run(
        api_client,
        [{"url": f"{http_server.url}/limited/{key}?times=1&retry_after=2{header_case}"}],
        max_attempts=2,
    )

    assert job.succeeded_items == 1
    first, second = http_server.hits(f"/limited/{key}")
    assert second.at - first.at >= 1.9


def test_a_post_that_met_a_server_error_is_not_sent_again(api_client, worker, http_server):
    job = _run(
        api_client,
        [{"method": "POST", "url": f"{http_server.url}/flaky/p?fail=1"}],
        max_attempts=3,
    )

    result = _results(job)[1]
    assert result.code == "http_500"
    assert "not tried again" in result.message
    assert len(http_server.hits("/flaky/p")) == 1


def test_a_post_with_an_idempotency_key_is_retried(api_client, worker, http_server):
    items = [
        {
            "method": "POST",
            "url": f"{http_server.url}/flaky/k?fail=1",
            "headers": {"Idempotency-Key": "order-17"},
        }
    ]

    job = _run(api_client, items, max_attempts=3)

    assert job.succeeded_items == 1
    assert len(http_server.hits("/flaky/k")) == 2


def test_a_header_value_with_a_control_character_fails_its_row_naming_the_line(
    api_client, worker, http_server
):
    items = [
        {"url": f"{http_server.url}/ok", "headers": {"X-A": "vertical\vtab"}},
        {"url": f"{http_server.url}/ok", "headers": {"X-A": "fine"}},
    ]

    job = _run(api_client, items)

    failure = _results(job)[1]
    assert (failure.code, failure.message) == (
        "invalid_headers",
        "line 1: the value of X-A holds a line break or another control character",
    )
    assert _results(job)[2].outcome == "succeeded"
    assert len(http_server.hits("/ok")) == 1


def test_a_redirect_to_a_malformed_location_fails_that_request(api_client, worker, http_server):
    job = _run(api_client, [{"url": f"{http_server.url}/redirect?to=http://%5B::1"}])

    result = _results(job)[1]
    assert (result.outcome, result.code) == ("failed", "destination_refused")
    assert job.processed_items == 1


def test_a_slow_server_times_out_with_a_clear_error(api_client, worker, http_server):
    job = _run(
        api_client,
        [{"url": f"{http_server.url}/slow?seconds=3"}],
        read_timeout=0.5,
        max_attempts=1,
    )

    result = _results(job)[1]
    assert result.code == "timeout"
    assert "no answer from 127.0.0.1 in time" in result.message


def test_redirects_are_followed(api_client, worker, http_server):
    target = f"{http_server.url}/ok?after=redirect"

    job = _run(api_client, [{"url": f"{http_server.url}/redirect?to={target}"}])

    output = _results(job)[1].output
    assert (output["status"], output["redirects"], output["url"]) == (200, 1, target)


def test_a_response_body_is_cut_at_max_body_bytes(api_client, worker, http_server):
    job = _run(api_client, [{"url": f"{http_server.url}/big?bytes=500000"}], max_body_bytes=1000)

    output = _results(job)[1].output
    assert (len(output["body"]), output["body_truncated"]) == (1000, True)


def test_secret_headers_appear_in_no_result_and_no_view_of_the_job(api_client, worker, http_server):
    items = [
        {"url": f"{http_server.url}/status/403", "headers": {"X-Api-Key": "item-secret-1"}},
        {"url": f"{http_server.url}/ok", "headers": '{"Authorization": "Bearer item-secret-2"}'},
    ]

    job = _run(api_client, items, headers={"Authorization": "Bearer params-secret"})

    assert http_server.hits("/ok")[0].headers["Authorization"] == "Bearer item-secret-2"
    stored = json.dumps(
        [[r.input, r.output, r.message] for r in ItemResult.objects.filter(job=job)]
    )
    detail = api_client.get(f"/api/v1/jobs/{job.pk}/").content.decode()
    download = api_client.get(f"/api/v1/jobs/{job.pk}/results/?format=csv")
    results = b"".join(download.streaming_content).decode()
    for secret in ("item-secret-1", "item-secret-2", "params-secret", "server-secret"):
        assert secret not in stored
        assert secret not in detail
        assert secret not in results


def test_webhooks_are_signed_and_verify_with_an_independent_implementation(
    api_client, worker, http_server
):
    items = [{"order": n, "status": "shipped"} for n in range(3)]

    job = _run(
        api_client, items, kind="webhook.send", url=f"{http_server.url}/webhook", secret=SECRET
    )

    assert job.succeeded_items == 3
    verifier = Webhook(SECRET)
    payloads = [
        verifier.verify(hit.body, {k.lower(): v for k, v in hit.headers.items()})
        for hit in http_server.hits("/webhook")
    ]
    assert sorted(p["order"] for p in payloads) == [0, 1, 2]
    ids = {hit.headers["webhook-id"] for hit in http_server.hits("/webhook")}
    assert ids == {r.output["delivery_id"] for r in ItemResult.objects.filter(job=job)}


def test_a_tampered_webhook_body_fails_verification(api_client, worker, http_server):
    _run(
        api_client,
        [{"order": 1}],
        kind="webhook.send",
        url=f"{http_server.url}/webhook",
        secret=SECRET,
    )
    hit = http_server.hits("/webhook")[0]
    headers = {k.lower(): v for k, v in hit.headers.items()}

    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(hit.body.replace(b"1", b"2"), headers)


def test_a_delivery_id_holding_a_control_character_fails_its_row_naming_the_line(
    api_client, worker, http_server
):
    items = [{"id": "order\v1"}, {"id": "order-2"}]

    job = _run(
        api_client,
        items,
        kind="webhook.send",
        url=f"{http_server.url}/webhook",
        secret=SECRET,
        id_field="id",
    )

    failure = _results(job)[1]
    assert (failure.code, failure.message) == (
        "invalid_value",
        "line 1: the delivery id in 'id' holds a line break or another control character",
    )
    assert [hit.headers["webhook-id"] for hit in http_server.hits("/webhook")] == ["order-2"]


def test_a_retried_webhook_keeps_its_delivery_id(api_client, worker, http_server):
    items = [{"order": 1}]
    first = _run(
        api_client,
        items,
        kind="webhook.send",
        url=f"{http_server.url}/status/410",
        secret=SECRET,
    )
    retry = api_client.post(f"/api/v1/jobs/{first.pk}/retry/")
    assert retry.status_code == 202, retry.content
    second = wait_for_job(retry.json()["id"])

    ids = [hit.headers["webhook-id"] for hit in http_server.hits("/status/410")]
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert second.failed_items == 1


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "0.0.0.0",  # noqa: S104 - a destination, not a bind address
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "[::ffff:127.0.0.1]",
        "localhost",
    ],
)
def test_loopback_in_any_spelling_is_refused_and_never_reached(
    api_client, worker, http_server, canary, host
):
    job = _run(api_client, [{"url": f"http://{host}:{canary.port}/"}])

    result = _results(job)[1]
    assert (result.outcome, result.code) == ("failed", "destination_refused")
    assert "refused" in result.message
    assert canary.hits() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://[64:ff9b::7f00:1]/",
    ],
)
def test_internal_addresses_are_refused_before_any_connection(api_client, worker, url):
    job = _run(api_client, [{"url": url}], connect_timeout=1)

    result = _results(job)[1]
    assert result.code == "destination_refused"
    assert result.output["attempts"] == 1


def test_a_redirect_to_loopback_is_refused(api_client, worker, http_server, canary):
    target = f"http://127.0.0.1:{canary.port}/"

    job = _run(api_client, [{"url": f"{http_server.url}/redirect?to={target}"}])

    result = _results(job)[1]
    assert result.code == "destination_refused"
    assert "redirect" in result.message
    assert canary.hits() == 0


def test_a_template_to_a_refused_host_is_rejected_before_the_job_exists(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {
            "kind": "http.request",
            "items": [{"id": 1}],
            "params": {"request": {"url": "http://169.254.169.254/{id}"}},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "link-local" in response.content.decode()


def test_the_per_host_rate_holds_across_two_workers(
    api_client, worker, worker_env, tmp_path, http_server
):
    from tests.support.worker import WorkerProcess

    second = WorkerProcess(env=worker_env, workdir=tmp_path, concurrency=1)
    second.start()
    try:
        items = [{"url": f"{http_server.url}/ok?n={n}"} for n in range(30)]
        job = _run(api_client, items, chunk_size=5, per_host_rate=10, timeout=90)
    finally:
        second.stop()

    assert job.succeeded_items == 30
    arrivals = sorted(hit.at for hit in http_server.hits("/ok"))
    # 10 per second across both workers: no second holds more than 10
    # requests, and one more for a request the machine sent late after its
    # permit (a late one can share a second with the next on-time one).
    # Without the shared limit the 30 arrive within a fraction of a second.
    busiest = max(
        sum(1 for later in arrivals if start <= later < start + 1.0) for start in arrivals
    )
    assert busiest <= 11, arrivals
    assert arrivals[-1] - arrivals[0] >= 2.8
    # Chunks ran at the same time, so in different processes.
    chunks = list(job.chunks.values_list("started_at", "finished_at"))
    overlapping = sum(
        1
        for a_start, a_end in chunks
        for b_start, b_end in chunks
        if (a_start, a_end) != (b_start, b_end) and a_start < b_end and b_start < a_end
    )
    assert overlapping > 0


def test_a_worker_killed_mid_job_never_sends_a_post_twice(api_client, worker, http_server):
    from collections import Counter

    from bulkyard.jobs.models import Chunk
    from tests.support.jobs import wait_until

    items = [
        {"method": "POST", "url": f"{http_server.url}/slow?seconds=0.02&n={n}"} for n in range(400)
    ]
    job = submit_items(
        api_client, items, kind="http.request", params={"concurrency": 4}, chunk_size=100
    )
    wait_until(lambda: len(http_server.hits("/slow")) >= 40, timeout=60, message="sending")

    worker.kill_hard()
    worker.start()

    finished = wait_for_job(job["id"], timeout=120)
    per_item = Counter(hit.path for hit in http_server.hits("/slow"))
    assert max(per_item.values()) == 1
    results = ItemResult.objects.filter(job=finished)
    sent = {r.item_number for r in results if r.outcome == "succeeded"}
    unknown = {r.item_number for r in results if r.code == "outcome_unknown"}
    assert len(sent) + len(unknown) == 400
    assert len(per_item) >= len(sent)
    assert max(Chunk.objects.filter(job=finished).values_list("attempts", flat=True)) >= 2
