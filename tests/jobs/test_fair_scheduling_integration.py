"""Fair scheduling (decision 0013) with a real Celery worker: the order chunks
started in, read from the database."""

import pytest
from django.contrib.auth.models import Permission

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


def test_an_owners_high_priority_job_runs_before_the_rest_of_its_low_priority_job(
    api_client, user, worker
):
    user.user_permissions.add(Permission.objects.get(codename="use_high_priority"))
    slow = {"sleep_per_item": 0.01}
    background = submit_items(
        api_client, [{"n": n} for n in range(300)], params=slow, priority="low"
    )
    wait_until(
        lambda: Chunk.objects.filter(job_id=background["id"], started_at__isnull=False).exists(),
        message="the low-priority job's first chunk started",
    )
    urgent = submit_items(api_client, [{"n": n} for n in range(80)], params=slow, priority="high")

    assert wait_for_job(urgent["id"]).status == JobStatus.SUCCEEDED
    assert wait_for_job(background["id"]).status == JobStatus.SUCCEEDED
    urgent_starts = Chunk.objects.filter(job_id=urgent["id"]).values_list("started_at", flat=True)
    # Taking turns, the background job would have started about as many
    # chunks as the urgent one while the urgent one's were being started.
    overtaking = Chunk.objects.filter(
        job_id=background["id"],
        started_at__gt=min(urgent_starts),
        started_at__lt=max(urgent_starts),
    )
    assert list(overtaking.values_list("sequence", flat=True)) == []
