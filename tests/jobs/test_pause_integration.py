"""Pause and resume through the API with a real Celery worker process (and its
beat, whose sweeper runs every second under the test settings)."""

import time

import pytest
from django.db import connection

from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobStatus
from tests.support.jobs import submit_items, wait_for_job, wait_until
from tests.support.kinds import LEDGER_TABLE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Long enough for several sweeps and for any wake-up in flight to be taken.
HOLD_SECONDS = 2.0


def _ledger(job_id: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT item_number FROM {LEDGER_TABLE} WHERE job_id = %s ORDER BY item_number",  # noqa: S608
            [job_id],
        )
        return [row[0] for row in cursor.fetchall()]


def _chunk_states(job_id: str) -> dict[int, tuple[str, int]]:
    return {
        sequence: (status, attempts)
        for sequence, status, attempts in Chunk.objects.filter(job_id=job_id).values_list(
            "sequence", "status", "attempts"
        )
    }


def test_a_job_paused_mid_way_holds_then_resumes_to_exact_counts(api_client, worker):
    job = submit_items(
        api_client, [{"n": n} for n in range(80)], params={"sleep_per_item": 0.03, "ledger": True}
    )
    wait_until(
        lambda: Job.objects.get(pk=job["id"]).processed_items >= 10,
        message="first chunk committed",
    )

    response = api_client.post(f"/api/v1/jobs/{job['id']}/pause/")
    assert (response.status_code, response.json()["status"]) == (200, "paused")
    # The chunks running at the pause finish and commit.
    wait_until(
        lambda: not Chunk.objects.filter(job_id=job["id"], status=ChunkStatus.RUNNING).exists(),
        message="running chunks committed",
    )
    before = _chunk_states(job["id"])
    committed = Job.objects.get(pk=job["id"]).processed_items
    time.sleep(HOLD_SECONDS)

    held = Job.objects.get(pk=job["id"])
    assert _chunk_states(job["id"]) == before  # no chunk started during the hold
    assert (held.status, held.processed_items) == (JobStatus.PAUSED, committed)
    assert ChunkStatus.PENDING in {status for status, _ in before.values()}
    assert committed == len(_ledger(job["id"])) < 80

    response = api_client.post(f"/api/v1/jobs/{job['id']}/resume/")
    assert (response.status_code, response.json()["status"]) == (200, "running")
    done = wait_for_job(job["id"])

    assert done.status == JobStatus.SUCCEEDED
    assert (done.total_items, done.processed_items, done.succeeded_items) == (80, 80, 80)
    assert _ledger(job["id"]) == list(range(1, 81))
    assert done.paused_at is None
    assert done.time_paused.total_seconds() >= HOLD_SECONDS
