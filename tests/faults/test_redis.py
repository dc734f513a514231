"""Redis (broker, cache, channel layer) going away and coming back."""

import time

import pytest

from tests.support.stack import csv_items

pytestmark = pytest.mark.faults

# The bound: a job moves again within this many seconds of the
# service's return, with default settings.
RECOVERY_SECONDS = 60


def test_job_resumes_within_a_minute_after_redis_restarts_without_its_data(stack):
    stack.start()
    count = 1500
    job_id = stack.submit_csv(csv_items(count), params='{"ledger": true, "sleep_per_item": 0.01}')
    stack.wait_until(
        lambda: stack.job(job_id)["processed_items"] >= 100, timeout=60, message="first chunks"
    )

    stack.redis.kill()
    time.sleep(2)
    stack.redis.start()
    before = stack.job(job_id)["processed_items"]
    # Chunks that were running when Redis went away may still commit; what
    # must move is the work that was only in Redis's queue.
    moved = stack.wait_until(
        lambda: stack.job(job_id)["processed_items"] >= before + 200,
        timeout=RECOVERY_SECONDS,
        message="progress after Redis came back",
    )
    job = stack.wait_job(job_id, timeout=120)

    assert job["status"] == "succeeded"
    assert (job["processed_items"], job["succeeded_items"]) == (count, count)
    assert stack.ledger(job_id) == list(range(2, count + 2))
    print(f"resumed {moved:.1f} s after Redis came back")


def test_a_job_submitted_while_redis_is_down_runs_once_it_is_back(stack):
    stack.start()
    stack.redis.kill()
    count = 300

    started = time.monotonic()
    job_id = stack.submit_csv(csv_items(count), params='{"ledger": true}')
    submit_seconds = time.monotonic() - started
    time.sleep(3)
    stack.redis.start()
    ran = stack.wait_until(
        lambda: stack.job(job_id)["status"] != "queued",
        timeout=RECOVERY_SECONDS,
        message="planning after Redis came back",
    )
    job = stack.wait_job(job_id, timeout=60)

    assert submit_seconds < 5
    assert job["status"] == "succeeded"
    assert stack.ledger(job_id) == list(range(2, count + 2))
    print(f"accepted in {submit_seconds:.2f} s; planned {ran:.1f} s after Redis came back")


def test_with_redis_down_reads_work_and_submits_are_accepted_fast(stack):
    stack.start()
    done = stack.submit_csv(csv_items(5))
    stack.wait_job(done, timeout=60)
    stack.redis.kill()

    with stack.client(timeout=10) as client:
        timings = []
        for _ in range(5):
            started = time.monotonic()
            listed = client.get("/jobs/")
            detail = client.get(f"/jobs/{done}/")
            timings.append(time.monotonic() - started)
        accepted = client.post("/jobs/", json={"kind": "test.echo", "items": [{"n": 1}]})

    assert (listed.status_code, detail.status_code) == (200, 200)
    assert detail.json()["status"] == "succeeded"
    assert max(timings) < 2
    assert accepted.status_code == 202, accepted.text
