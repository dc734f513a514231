"""Metrics and logs of a job run by a real worker process: its counters, read
through /metrics from this process, and its JSON log lines."""

import json

import pytest

from bulkyard.jobs.models import ItemResult, JobStatus
from tests.support.jobs import submit_items, wait_for_job
from tests.support.metrics import scrape, value

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

KIND = "test.echo"


@pytest.fixture
def scraper(anon_client, settings):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
    return anon_client


def _counters(found) -> dict[str, float]:
    return {
        "created": value(found, "bulkyard_jobs_created_total", kind=KIND),
        "finished": value(
            found, "bulkyard_jobs_finished_total", kind=KIND, status="completed_with_errors"
        ),
        "succeeded": value(found, "bulkyard_items_total", kind=KIND, outcome="succeeded"),
        "failed": value(found, "bulkyard_items_total", kind=KIND, outcome="failed"),
        "requested_failure": value(
            found, "bulkyard_item_failures_total", kind=KIND, code="requested_failure"
        ),
        "chunks_done": value(found, "bulkyard_chunk_runs_total", kind=KIND, outcome="done"),
        "chunk_timings": value(found, "bulkyard_chunk_duration_seconds_count", kind=KIND),
    }


def test_a_jobs_counters_move_by_its_own_counts(api_client, worker, scraper):
    before = _counters(scrape(scraper))

    job = submit_items(api_client, [{"n": n} for n in range(25)], params={"fail_items": [3, 9, 17]})
    done = wait_for_job(job["id"])

    after = _counters(scrape(scraper))
    assert done.status == JobStatus.COMPLETED_WITH_ERRORS
    moved = {name: after[name] - before[name] for name in before}
    assert moved == {
        "created": 1,
        "finished": 1,
        "succeeded": done.succeeded_items,
        "failed": done.failed_items,
        "requested_failure": ItemResult.objects.filter(job=done, code="requested_failure").count(),
        "chunks_done": done.chunks_total,
        "chunk_timings": done.chunks_total,
    }
    assert (done.succeeded_items, done.failed_items, done.chunks_total) == (22, 3, 3)


def test_the_workers_json_log_lines_carry_the_job(api_client, user, worker):
    job = submit_items(api_client, [{"n": 1}])
    wait_for_job(job["id"])

    lines = []
    for text in worker.log_path.read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue  # Celery's banner, printed before logging starts
    mine = [line for line in lines if line.get("job_id") == job["id"]]
    assert {line["logger"] for line in mine} >= {
        "bulkyard.jobs.services.planning",  # "job …: planned"
        "celery.app.trace",  # Celery's own "Task … succeeded" of its chunk
    }
    chunk_lines = [line for line in mine if line.get("chunk_id")]
    assert chunk_lines
    assert all((line["kind"], line["owner"]) == (KIND, user.pk) for line in chunk_lines)
