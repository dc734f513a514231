"""The request ledger: what a chunk run again does with what an earlier run
sent. Requests go to the real test server; the chunk runs in this process."""

import pytest

from bulkyard.core.http.client import RequestSpec
from bulkyard.jobs.ledger import LedgerStatus
from bulkyard.jobs.models import Job
from bulkyard.outbound.kinds import HttpRequestParams
from bulkyard.outbound.models import OutboundCall
from bulkyard.outbound.services import ChunkCalls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def job(user):
    return Job.objects.create(owner=user, kind="http.request", input_format="jsonl", chunk_size=10)


def _calls(job, *, stop_after: int | None = None) -> ChunkCalls:
    checks = {"n": 0}

    def should_stop() -> bool:
        checks["n"] += 1
        return stop_after is not None and checks["n"] > stop_after

    return ChunkCalls(
        job_id=str(job.pk),
        options=HttpRequestParams.model_validate({}).call_options(),
        concurrency=4,
        should_stop=should_stop,
    )


def _post(number: int, url: str) -> RequestSpec:
    return RequestSpec(number=number, method="POST", url=url)


def test_a_finished_request_is_not_sent_again_when_its_chunk_runs_again(job, http_server):
    spec = _post(1, f"{http_server.url}/echo")
    first = _calls(job).run([spec])

    second = _calls(job).run([spec])

    assert [o.output["status"] for o in first] == [o.output["status"] for o in second] == [200]
    assert len(http_server.hits("/echo")) == 1


def test_a_post_left_sending_by_a_crash_is_reported_and_not_sent_again(job, http_server):
    OutboundCall.objects.create(job=job, item_number=1, status=LedgerStatus.SENDING)

    outcomes = _calls(job).run([_post(1, f"{http_server.url}/echo")])

    assert [o.code for o in outcomes] == ["outcome_unknown"]
    assert http_server.hits("/echo") == []
    assert OutboundCall.objects.get(job=job).status == LedgerStatus.DONE


def test_a_replay_safe_request_left_sending_by_a_crash_is_sent_again(job, http_server):
    OutboundCall.objects.create(job=job, item_number=1, status=LedgerStatus.SENDING)
    spec = RequestSpec(number=1, method="PUT", url=f"{http_server.url}/echo", replay_safe=True)

    outcomes = _calls(job).run([spec])

    assert [o.succeeded for o in outcomes] == [True]
    assert len(http_server.hits("/echo")) == 1


def test_requests_not_sent_before_a_cancel_go_back_to_pending(job, http_server):
    specs = [_post(n, f"{http_server.url}/echo?n={n}") for n in range(1, 121)]

    outcomes = _calls(job, stop_after=1).run(specs)

    sent = len(http_server.hits("/echo"))
    assert len(outcomes) == sent == 50  # one claim batch went out before the cancel
    statuses = OutboundCall.objects.filter(job=job).values_list("status", flat=True)
    assert sorted(set(statuses)) == [LedgerStatus.DONE, LedgerStatus.PENDING]
    assert list(statuses).count(LedgerStatus.PENDING) == 70
