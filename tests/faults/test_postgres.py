"""PostgreSQL stopped for 30 s in the middle of a job."""

import time

import httpx
import pytest

from tests.support.stack import contacts_csv, csv_items

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 30
RECOVERY_SECONDS = 60


def _timed_get(url: str, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=30, **kwargs)
    return response, time.monotonic() - started


def test_an_import_survives_postgres_stopped_for_30_seconds_with_exact_rows(stack):
    stack.start()
    count = 60_000
    job_id = stack.submit_csv(
        contacts_csv(count), kind="data.import", params='{"target": "contacts"}', chunk_size=500
    )
    # Small chunks: many of them are waiting, some running, when the database goes.
    stack.wait_until(
        lambda: stack.job(job_id)["processed_items"] >= 10_000, timeout=90, message="first chunks"
    )

    stack.pg.stop("fast")
    stopped = time.monotonic()
    headers = {"Authorization": f"Token {stack.token}"}
    api, api_seconds = _timed_get(f"{stack.base_url}/api/v1/jobs/{job_id}/", headers=headers)
    # /health/ reuses a report for 5 s: a probe may see the one from before
    # the outage, then sees it down; each answer comes within 3 s.
    probes = [_timed_get(f"{stack.base_url}/health/")]
    while probes[-1][0].status_code == 200 and time.monotonic() - stopped < 15:
        time.sleep(1)
        probes.append(_timed_get(f"{stack.base_url}/health/"))
    health = probes[-1][0]
    health_seconds = max(seconds for _, seconds in probes)
    down_reported_after = time.monotonic() - stopped
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    stack.pg.start()
    before = stack.job(job_id)["processed_items"]
    moved = stack.wait_until(
        lambda: stack.job(job_id)["processed_items"] > before,
        timeout=RECOVERY_SECONDS,
        message="progress after PostgreSQL came back",
    )
    job = stack.wait_job(job_id, timeout=180)

    assert (api.status_code, api.json()["error"]["code"]) == (503, "service_unavailable")
    assert api.headers["Retry-After"]
    assert api_seconds < 5
    assert (health.status_code, health.json()["status"]) == (503, "down")
    assert health_seconds < 3
    assert down_reported_after < 5 + 3 + 3  # the reused report, a fresh one, the API call
    assert job["status"] == "succeeded", job
    assert (job["processed_items"], job["succeeded_items"]) == (count, count)
    rows = stack.rows("SELECT count(*) AS n, sum(amount) AS total FROM bulkyard_data_contact")[0]
    assert rows["n"] == count
    assert rows["total"] == sum(n + 0.5 for n in range(count))
    attempts = stack.rows(
        "SELECT max(attempts) AS most FROM bulkyard_jobs_chunk WHERE job_id = %s", [job_id]
    )[0]
    assert attempts["most"] <= 2, "an outage must not use up a chunk's attempts"
    print(
        f"API {api_seconds:.2f} s, /health/ {health_seconds:.2f} s during the outage "
        f"(down reported {down_reported_after:.1f} s in); "
        f"resumed {moved:.1f} s after PostgreSQL came back"
    )


def test_wakeups_that_meet_postgres_down_come_back_instead_of_being_dropped(stack):
    stack.start()
    stack.beat.stop()  # no sweeper: only the wake-ups themselves can move the job
    stack.worker.stop_warm()
    count = 200
    job_id = stack.submit_csv(csv_items(count), params='{"ledger": true}')

    stack.pg.stop("fast")
    stack.worker.start()  # takes the job's wake-up while the database is away
    log = stack.workdir / f"worker-{stack.worker.starts}.log"
    stack.wait_until(
        lambda: "retry: Retry in" in log.read_text(), timeout=30, message="a wake-up retried"
    )
    stack.pg.start()
    job = stack.wait_job(job_id, timeout=60)

    assert job["status"] == "succeeded"
    assert stack.ledger(job_id) == list(range(2, count + 2))
