"""Workers and beat killed, stopped and restarted in the middle of an import."""

import os
import signal
import time
from datetime import UTC, datetime

import pytest

from tests.support.stack import contacts_csv

pytestmark = pytest.mark.faults

# A lost worker's chunk is handed on once its lease runs out: shortened here
# from production's 120 s so that the tests take seconds. The bound each test
# asserts follows from it: the lease, then a sweep.
LEASE_SECONDS = 8
SWEEP_SECONDS = 10  # production's default, not overridden
ROWS = 20_000


@pytest.fixture
def stack_options():
    return {"overrides": {"BULKYARD_CHUNK_LEASE_SECONDS": str(LEASE_SECONDS)}}


def _import(stack) -> str:
    return stack.submit_csv(
        contacts_csv(ROWS), kind="data.import", params='{"target": "contacts"}', chunk_size=250
    )


def _progress(stack, job_id) -> int:
    return stack.job(job_id)["processed_items"]


def _assert_exact(stack, job_id) -> dict:
    job = stack.wait_job(job_id, timeout=180)
    assert job["status"] == "succeeded", job
    assert (job["processed_items"], job["succeeded_items"]) == (ROWS, ROWS)
    rows = stack.rows("SELECT count(*) AS n, sum(amount) AS total FROM bulkyard_data_contact")[0]
    assert (rows["n"], rows["total"]) == (ROWS, sum(n + 0.5 for n in range(ROWS)))
    return job


def test_an_import_ends_exact_after_the_worker_is_killed_hard(stack):
    stack.start()
    job_id = _import(stack)
    stack.wait_until(lambda: _progress(stack, job_id) >= 2000, timeout=60, message="start")

    stack.worker.kill_hard()
    stack.worker.start()
    before = _progress(stack, job_id)
    resumed = stack.wait_until(
        lambda: _progress(stack, job_id) > before, timeout=30, message="progress after restart"
    )
    _assert_exact(stack, job_id)
    lost = stack.rows(
        "SELECT count(*) AS n FROM bulkyard_jobs_chunk WHERE job_id = %s AND attempts > 1",
        [job_id],
    )[0]["n"]

    assert lost <= 2  # the chunks the killed processes held, run again
    print(f"progress {resumed:.1f} s after the restart; {lost} chunk(s) run twice")


def _kill_pool_children_holding_chunks(stack, job_id) -> tuple[int, datetime]:
    """SIGKILL the pool processes at a moment they hold chunks.

    Between two chunks they hold none, and a kill then proves nothing. So
    they are frozen first: while stopped, the running chunks PostgreSQL
    shows are exactly theirs, and they are killed only if there are some.
    """
    children = stack.pool_children()
    assert len(children) == 2
    for _ in range(50):
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        held = stack.rows(
            "SELECT count(*) AS n FROM bulkyard_jobs_chunk "
            "WHERE job_id = %s AND status = 'running'",
            [job_id],
        )[0]["n"]
        if held:
            killed_at = datetime.now(UTC)
            for pid in children:
                os.kill(pid, signal.SIGKILL)  # the main process starts new ones
            return held, killed_at
        for pid in children:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError(f"the pool never held a chunk\n{stack.logs()}")


def test_an_import_ends_exact_after_its_pool_processes_are_killed(stack):
    stack.start()
    job_id = _import(stack)
    stack.wait_until(lambda: _progress(stack, job_id) >= 2000, timeout=60, message="start")

    held, killed_at = _kill_pool_children_holding_chunks(stack, job_id)
    _assert_exact(stack, job_id)
    rerun = stack.rows(
        "SELECT count(*) AS n, max(started_at) AS last FROM bulkyard_jobs_chunk "
        "WHERE job_id = %s AND attempts > 1",
        [job_id],
    )[0]

    assert rerun["n"] >= held, "every chunk the killed processes held ran again"
    # Each lost chunk waited for its lease to run out, then for a sweep.
    handed_on = (rerun["last"] - killed_at).total_seconds()
    assert handed_on < LEASE_SECONDS + SWEEP_SECONDS + 5
    print(f"{rerun['n']} lost chunk(s) handed on {handed_on:.1f} s after the kill")


def test_an_import_ends_exact_after_a_warm_shutdown_and_restart(stack):
    stack.start()
    job_id = _import(stack)
    stack.wait_until(lambda: _progress(stack, job_id) >= 2000, timeout=60, message="start")

    stack.worker.stop_warm()  # running chunks finish, then the worker exits
    stack.worker.start()
    _assert_exact(stack, job_id)
    rerun = stack.rows(
        "SELECT count(*) AS n FROM bulkyard_jobs_chunk WHERE job_id = %s AND attempts > 1",
        [job_id],
    )[0]["n"]

    assert rerun == 0


def test_with_beat_stopped_lost_wakeups_wait_for_it_and_resume_when_it_returns(stack):
    stack.start()
    job_id = _import(stack)
    stack.wait_until(lambda: _progress(stack, job_id) >= 2000, timeout=60, message="start")

    stack.beat.stop()
    stack.redis.kill()  # the wake-ups go with it
    stack.redis.start()
    time.sleep(3)  # chunks that were running commit
    stalled = _progress(stack, job_id)
    time.sleep(SWEEP_SECONDS + 5)
    still = _progress(stack, job_id)
    stack.beat.start()
    resumed = stack.wait_until(
        lambda: _progress(stack, job_id) > still,
        timeout=SWEEP_SECONDS + 20,
        message="progress once beat is back",
    )
    _assert_exact(stack, job_id)

    assert still == stalled, "nothing else sends lost wake-ups again"
    print(f"resumed {resumed:.1f} s after beat came back")
