"""End to end through the API, a real Celery worker process, Redis and PostgreSQL."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.db import connection

from bulkyard.jobs import dispatch
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemResult, Job, JobStatus
from tests.support.jobs import submit_file, submit_items, wait_for_job, wait_until
from tests.support.kinds import LEDGER_TABLE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _ledger(job_id: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT item_number FROM {LEDGER_TABLE} WHERE job_id = %s ORDER BY item_number",  # noqa: S608
            [job_id],
        )
        return [row[0] for row in cursor.fetchall()]


def test_job_larger_than_one_chunk_processes_every_item_once(api_client, worker):
    items = [{"n": n} for n in range(95)]
    job = submit_items(api_client, items, params={"ledger": True})

    done = wait_for_job(job["id"])

    assert done.status == JobStatus.SUCCEEDED
    assert (done.total_items, done.processed_items, done.succeeded_items) == (95, 95, 95)
    assert done.chunks_total == 10
    assert set(Chunk.objects.filter(job=done).values_list("status", flat=True)) == {"done"}
    assert _ledger(job["id"]) == list(range(1, 96))


def test_single_item_failures_are_reported_and_the_rest_succeeds(api_client, worker):
    job = submit_items(api_client, [{"n": n} for n in range(20)], params={"fail_items": [7, 15]})

    done = wait_for_job(job["id"])

    assert done.status == JobStatus.COMPLETED_WITH_ERRORS
    assert (done.succeeded_items, done.failed_items) == (18, 2)
    response = api_client.get(f"/api/v1/jobs/{job['id']}/results/?outcome=failed&format=jsonl")
    failed = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [(r["item"], r["code"]) for r in failed] == [
        (7, "requested_failure"),
        (15, "requested_failure"),
    ]
    assert failed[0]["input"] == {"n": 6}


def test_csv_rows_that_cannot_be_read_fail_with_their_line_numbers(api_client, worker):
    content = (
        b"name,city\n"
        b"Ada,London\n"
        b"Bad,Lond\xe9n\n"  # Latin-1, not UTF-8
        b"\n"
        b"Too,many,fields\n"
        b'"Multi\nline",Paris\n'
        b"Last,Rome\n"
    )
    response = submit_file(api_client, content, name="people.csv")
    assert response.status_code == 202, response.content

    done = wait_for_job(response.json()["id"])

    assert done.status == JobStatus.COMPLETED_WITH_ERRORS
    failures = {
        r.item_number: (r.code, r.message)
        for r in ItemResult.objects.filter(job=done, outcome="failed")
    }
    assert failures == {
        3: ("invalid_encoding", "line 3 is not valid UTF-8"),
        5: ("wrong_field_count", "line 5: expected 2 fields as in the header, found 3"),
    }
    outputs = {
        r.item_number: r.output for r in ItemResult.objects.filter(job=done, outcome="succeeded")
    }
    assert outputs == {
        2: {"name": "Ada", "city": "London"},
        6: {"name": "Multi\nline", "city": "Paris"},
        8: {"name": "Last", "city": "Rome"},
    }


def test_cancel_mid_job_stops_between_items_and_keeps_honest_counts(api_client, worker):
    job = submit_items(
        api_client, [{"n": n} for n in range(80)], params={"sleep_per_item": 0.05, "ledger": True}
    )
    wait_until(
        lambda: Job.objects.get(pk=job["id"]).processed_items >= 10,
        message="first chunk committed",
    )

    response = api_client.post(f"/api/v1/jobs/{job['id']}/cancel/")
    assert response.status_code == 202
    assert response.json()["status"] in ("cancelling", "cancelled")

    done = wait_for_job(job["id"])
    assert done.status == JobStatus.CANCELLED
    assert 10 <= done.processed_items < 80
    committed = ItemResult.objects.filter(job=done).count()
    assert committed == done.processed_items == done.succeeded_items
    assert len(_ledger(job["id"])) == committed
    statuses = list(Chunk.objects.filter(job=done).values_list("status", flat=True))
    assert ChunkStatus.CANCELLED in statuses
    assert ChunkStatus.PENDING not in statuses
    assert ChunkStatus.RUNNING not in statuses


def test_retry_creates_a_job_of_only_the_failed_items_with_their_numbers(
    api_client, worker, tmp_path
):
    flag = tmp_path / "still-broken"
    flag.touch()
    params = {"fail_items": [3, 12, 19], "fail_while_exists": str(flag)}
    first = wait_for_job(
        submit_items(api_client, [{"n": n} for n in range(20)], params=params)["id"]
    )
    assert first.failed_items == 3

    flag.unlink()  # whatever made those items fail is fixed
    response = api_client.post(f"/api/v1/jobs/{first.pk}/retry/")
    assert response.status_code == 202, response.content
    retry = wait_for_job(response.json()["id"])

    assert retry.retry_of_id == first.pk
    assert retry.status == JobStatus.SUCCEEDED
    assert retry.total_items == 3
    assert retry.params == first.params
    numbers = list(ItemResult.objects.filter(job=retry).values_list("item_number", flat=True))
    assert sorted(numbers) == [3, 12, 19]


def test_wakeups_delivered_twice_change_nothing(api_client, worker):
    job = submit_items(api_client, [{"n": n} for n in range(25)], params={"ledger": True})
    done = wait_for_job(job["id"])
    before = (done.processed_items, ItemResult.objects.filter(job=done).count())

    # Every wake-up of the job again, as a broker that redelivers would send them.
    dispatch.wake_chunk_workers("bulkyard.io", done.chunks_total)
    dispatch.wake_step_worker(2)
    ping = submit_items(api_client, [{"n": 0}])  # queued behind the duplicates
    wait_for_job(ping["id"])

    again = Job.objects.get(pk=done.pk)
    assert (again.processed_items, ItemResult.objects.filter(job=done).count()) == before
    assert again.finished_at == done.finished_at
    assert _ledger(job["id"]) == list(range(1, 26))
    assert set(Chunk.objects.filter(job=done).values_list("attempts", flat=True)) == {1}


def test_a_worker_killed_mid_job_leaves_every_item_processed_exactly_once(api_client, worker):
    job = submit_items(
        api_client, [{"n": n} for n in range(60)], params={"sleep_per_item": 0.04, "ledger": True}
    )
    wait_until(
        lambda: (
            Chunk.objects.filter(job_id=job["id"], status="done").exists()
            and Chunk.objects.filter(job_id=job["id"], status="running").exists()
        ),
        message="one chunk done and another running",
    )

    worker.kill_hard()
    killed_while = Job.objects.get(pk=job["id"])
    assert killed_while.status == JobStatus.RUNNING
    worker.start()

    done = wait_for_job(job["id"], timeout=90)
    assert done.status == JobStatus.SUCCEEDED
    assert (done.processed_items, done.succeeded_items, done.failed_items) == (60, 60, 0)
    numbers = sorted(ItemResult.objects.filter(job=done).values_list("item_number", flat=True))
    assert numbers == list(range(1, 61))
    assert _ledger(job["id"]) == list(range(1, 61))
    assert max(Chunk.objects.filter(job=done).values_list("attempts", flat=True)) >= 2


def test_a_chunk_that_raises_is_retried_with_backoff_and_then_succeeds(
    api_client, worker, settings
):
    job = submit_items(api_client, [{"n": n} for n in range(5)], params={"crash_attempts": 1})

    done = wait_for_job(job["id"], timeout=60)

    assert done.status == JobStatus.SUCCEEDED
    assert Chunk.objects.get(job=done).attempts == 2


def test_a_chunk_that_always_raises_fails_its_items_instead_of_looping(api_client, worker):
    job = submit_items(api_client, [{"n": n} for n in range(4)], params={"crash_attempts": 99})

    done = wait_for_job(job["id"], timeout=120)

    assert done.status == JobStatus.FAILED
    assert done.error_code == "all_items_failed"
    chunk = Chunk.objects.get(job=done)
    assert (chunk.status, chunk.attempts) == (ChunkStatus.FAILED, 3)
    codes = set(ItemResult.objects.filter(job=done).values_list("code", flat=True))
    assert codes == {"chunk_failed"}
    assert "crash requested" in ItemResult.objects.filter(job=done).first().message


def test_results_download_as_csv_neutralises_formulas(api_client, worker):
    content = b'name,city\n=1+2,@SUM(A1)\n"-3",\tTab\nplain,+cmd\n'
    response = submit_file(api_client, content, params='{"fail_items": [2, 3, 4]}')
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])

    response = api_client.get(f"/api/v1/jobs/{job.pk}/results/?outcome=failed&format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["item", "outcome", "code", "message", "output", "input.name", "input.city"]
    assert [row[5:] for row in rows[1:]] == [
        ["'=1+2", "'@SUM(A1)"],
        ["-3", "'\tTab"],
        ["plain", "'+cmd"],
    ]


def test_text_stats_kind_runs_on_the_shipped_sample(api_client, worker):
    sample = Path(__file__).resolve().parents[2] / "samples" / "texts.csv"
    response = submit_file(api_client, sample.read_bytes(), name="texts.csv", kind="text.stats")
    assert response.status_code == 202, response.content

    done = wait_for_job(response.json()["id"])

    assert done.status == JobStatus.COMPLETED_WITH_ERRORS
    assert (done.total_items, done.failed_items) == (9, 1)
    assert done.summary["documents"] == 8
    first = ItemResult.objects.get(job=done, item_number=2).output
    assert first is not None
    assert (first["id"], first["words"]) == ("1", 17)


def test_a_gzip_upload_is_processed_with_its_line_numbers(api_client, worker):
    import gzip

    rows = b"name,city\n" + b"".join(f"n{n},c{n}\n".encode() for n in range(30)) + b"x,y,z\n"
    response = submit_file(api_client, gzip.compress(rows), name="people.csv.gz")
    assert response.status_code == 202, response.content

    done = wait_for_job(response.json()["id"])

    assert (done.total_items, done.succeeded_items, done.failed_items) == (31, 30, 1)
    assert done.input_compression == ""
    assert done.input_file.name.endswith(".csv")
    failed = ItemResult.objects.get(job=done, outcome="failed")
    assert (failed.item_number, failed.code) == (32, "wrong_field_count")
    assert ItemResult.objects.get(job=done, item_number=2).output == {"name": "n0", "city": "c0"}


def test_a_gzip_upload_truncated_after_its_head_fails_at_planning(api_client, worker):
    import gzip

    data = gzip.compress(
        b"a,b\n" + b"".join(f"{n},{n * 7919 % 10007}\n".encode() for n in range(200_000))
    )
    response = submit_file(api_client, data[: len(data) - 2000], name="cut.csv.gz")
    assert response.status_code == 202, response.content

    done = wait_for_job(response.json()["id"])

    assert done.status == JobStatus.FAILED
    assert done.error_code == "invalid_gzip"
    assert not Chunk.objects.filter(job=done).exists()
