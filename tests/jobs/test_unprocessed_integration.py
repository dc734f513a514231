"""The items a cancel left (GET …/results/?outcome=unprocessed) with a real
Celery worker: what the results say ran and what the file says never ran make
up the input, each item once, and the file can be submitted again."""

import csv
import io
import json

import pytest

from bulkyard.jobs.models import Chunk, ChunkStatus, JobStatus
from tests.support.jobs import submit_file, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROWS = 300


def _ids(body: bytes) -> list[str]:
    return [row["id"] for row in csv.DictReader(io.StringIO(body.decode()))]


def test_unprocessed_items_after_a_cancel_are_exactly_the_items_that_never_ran(api_client, worker):
    # Records over two lines each, so item numbers are not positions.
    content = b"id,text\n" + b"".join(
        f'{n},"row {n}\nsecond line, with a comma"\n'.encode() for n in range(ROWS)
    )
    # 10 ms an item: a chunk of 100 runs for a second, and looks for a cancel
    # every 0.2 s (in the tests), so the cancel stops the two chunks the
    # worker's processes are running part-way; the third never starts.
    submitted = submit_file(
        api_client, content, params=json.dumps({"sleep_per_item": 0.01}), chunk_size=100
    )
    assert submitted.status_code == 202, submitted.content
    job_id = submitted.json()["id"]
    wait_until(
        lambda: Chunk.objects.filter(job_id=job_id, status=ChunkStatus.RUNNING).exists(),
        message="a chunk running",
    )
    assert api_client.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 202
    assert wait_for_job(job_id).status == JobStatus.CANCELLED

    left = api_client.get(f"/api/v1/jobs/{job_id}/results/?outcome=unprocessed")
    results = api_client.get(f"/api/v1/jobs/{job_id}/results/?format=jsonl")

    body = b"".join(left.streaming_content)
    never_ran = _ids(body)
    ran = [
        json.loads(line)["output"]["id"]
        for line in b"".join(results.streaming_content).splitlines()
    ]
    assert sorted(ran + never_ran, key=int) == [str(n) for n in range(ROWS)]
    assert int(left["X-Unprocessed-Count"]) == len(never_ran)
    # Byte for byte: the records as they were sent, in the order they were.
    assert body == b"id,text\n" + b"".join(
        f'{n},"row {n}\nsecond line, with a comma"\n'.encode() for n in map(int, never_ran)
    )

    again = submit_file(api_client, body, name=f"job-{job_id}-unprocessed.csv")
    assert again.status_code == 202, again.content
    rerun = wait_for_job(again.json()["id"])
    assert (rerun.status, rerun.total_items) == (JobStatus.SUCCEEDED, len(never_ran))
