"""Fair scheduling (decision 0013) with a real Celery worker: the order chunks
started in, read from the database."""

import pytest

from bulkyard.jobs.models import Chunk, JobStatus
from tests.support.jobs import submit_items, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_small_job_submitted_behind_another_owners_big_job_starts_before_most_of_it(
    api_client, other_client, worker
):
    # 30 chunks of 10 items at 10 ms an item: ~1.5 s on the worker's 2 processes.
    big = submit_items(api_client, [{"n": n} for n in range(300)], params={"sleep_per_item": 0.01})
    wait_until(
        lambda: Chunk.objects.filter(job_id=big["id"], started_at__isnull=False).exists(),
        message="the big job's first chunk started",
    )
    small = submit_items(other_client, [{"n": n} for n in range(20)])

    assert wait_for_job(small["id"]).status == JobStatus.SUCCEEDED
    assert wait_for_job(big["id"]).status == JobStatus.SUCCEEDED
    small_started = max(
        Chunk.objects.filter(job_id=small["id"]).values_list("started_at", flat=True)
    )
    big_starts = list(Chunk.objects.filter(job_id=big["id"]).values_list("started_at", flat=True))
    assert sum(start > small_started for start in big_starts) > len(big_starts) / 2
