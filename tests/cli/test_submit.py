"""``submit``, ``retry`` and ``watch`` against the live server: following a
job to its end over the WebSocket, and the exit status it ends with."""

import csv
import json
import uuid

import pytest

from bulkyard.jobs.models import Job
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _params(**values) -> str:
    return json.dumps(values)


def test_submit_follow_prints_the_id_and_exits_0_when_the_job_succeeds(bulkyard, items_file):
    done = bulkyard(
        "submit",
        str(items_file(40)),
        "--kind",
        "test.echo",
        "--follow",
        "--params",
        _params(sleep_per_item=0.01),
    )

    assert done.returncode == 0, done.stderr
    job = Job.objects.get(pk=uuid.UUID(done.stdout.strip()))
    assert (job.status, job.succeeded_items) == ("succeeded", 40)
    assert "40: 40 succeeded, 0 failed" in done.stderr
    assert "live updates unavailable" not in done.stderr  # it followed the WebSocket


def test_follow_exits_1_when_some_items_failed(bulkyard, items_file):
    done = bulkyard(
        "submit", str(items_file(20)), "-k", "test.echo", "-f", "-p", _params(fail_items=[3, 7])
    )

    assert done.returncode == 1, done.stderr
    assert "completed_with_errors" in done.stderr
    assert f"bulkyard results {done.stdout.strip()} --failed" in done.stderr


def test_follow_exits_2_when_the_job_failed(bulkyard, items_file):
    done = bulkyard(
        "submit",
        str(items_file(5)),
        "-k",
        "test.echo",
        "-f",
        "-p",
        _params(fail_items=[1, 2, 3, 4, 5]),
    )

    assert done.returncode == 2, done.stderr
    assert "all_items_failed" in done.stderr


def test_watch_exits_3_for_a_job_cancelled_while_it_runs(bulkyard, cli, items_file):
    submitted = cli(
        "submit",
        str(items_file(60)),
        "-k",
        "test.echo",
        "--chunk-size",
        "5",
        "-p",
        _params(sleep_per_item=0.1),
    )
    job_id = submitted.stdout.strip()

    cancelled = cli("cancel", job_id)
    watched = bulkyard("watch", job_id, "--quiet")

    assert cancelled.stdout.strip() in ("cancelling", "cancelled"), cancelled.stderr
    assert watched.returncode == 3, watched.stderr
    assert Job.objects.get(pk=job_id).status == "cancelled"


def test_results_failed_writes_exactly_the_failed_rows_to_the_file(
    bulkyard, cli, items_file, tmp_path
):
    submitted = cli(
        "submit",
        str(items_file(30)),
        "-k",
        "test.echo",
        "-f",
        "-q",
        "-p",
        _params(fail_items=[4, 9, 30]),
    )
    target = tmp_path / "failed.csv"

    done = bulkyard("results", submitted.stdout.strip(), "--failed", "-o", str(target))

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(target.open(newline="")))
    assert [(row["item"], row["outcome"], row["code"]) for row in rows] == [
        (str(n), "failed", "requested_failure") for n in (4, 9, 30)
    ]
    assert not list(tmp_path.glob(".failed.csv.*"))  # no part file left


def test_submit_reads_standard_input(cli, items_file):
    done = cli(
        "submit",
        "-",
        "--format",
        "jsonl",
        "-k",
        "test.echo",
        "-f",
        "-q",
        stdin=items_file(12).read_bytes(),
    )

    assert done.returncode == 0, done.stderr
    assert Job.objects.get(pk=done.stdout.strip()).total_items == 12


def test_submit_json_prints_the_accepted_job(cli, items_file):
    done = cli("submit", str(items_file(3)), "-k", "test.echo", "--json", "--priority", "low")

    job = json.loads(done.stdout)
    assert (job["kind"], job["priority"]) == ("test.echo", "low")
    assert job["links"]["status"].endswith(f"/api/v1/jobs/{job['id']}/")


def test_retry_prints_the_new_job_and_follows_it(cli, items_file, tmp_path):
    flag = tmp_path / "failing"
    flag.touch()
    first = cli(
        "submit",
        str(items_file(10)),
        "-k",
        "test.echo",
        "-f",
        "-q",
        "-p",
        _params(fail_items=[2, 5], fail_while_exists=str(flag)),
    )
    flag.unlink()

    retried = cli("retry", first.stdout.strip(), "--follow")

    assert (first.returncode, retried.returncode) == (1, 0), retried.stderr
    new = Job.objects.get(pk=retried.stdout.strip())
    assert (str(new.retry_of_id), new.succeeded_items) == (first.stdout.strip(), 2)


def test_a_job_is_followed_by_polling_when_the_websocket_is_refused(cli, items_file):
    # WebSockets go through a proxy (ws_proxy, which only WebSocket clients
    # read) on a port nobody listens on; HTTP goes straight to the server.
    refused = {"ws_proxy": f"http://127.0.0.1:{free_port()}"}

    done = cli("submit", str(items_file(20)), "-k", "test.echo", "-f", env=refused)

    assert done.returncode == 0, done.stderr
    assert "live updates unavailable (could not connect" in done.stderr
    assert "20: 20 succeeded, 0 failed" in done.stderr


def test_submit_prints_the_kinds_warnings_on_stderr(bulkyard, items_file):
    done = bulkyard(
        "submit", str(items_file(1)), "-k", "test.echo", "-p", _params(warning="the moon is full")
    )

    assert done.returncode == 0, done.stderr
    assert "warning: the moon is full (test_warning)" in done.stderr
    assert "warning" not in done.stdout  # stdout carries only the id


def test_submit_without_warnings_prints_none(bulkyard, items_file):
    done = bulkyard("submit", str(items_file(1)), "-k", "test.echo")

    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
