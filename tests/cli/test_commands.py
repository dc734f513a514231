"""The commands that read or change a job, against the live server."""

import json

import pytest

from tests.cli.conftest import client_env, run_cli

pytestmark = pytest.mark.integration
# The server reads the test's user and token: they must be committed.
committed = pytest.mark.django_db(transaction=True)


def _submitted(cli, path, *args: str) -> str:
    done = cli("submit", str(path), "-k", "test.echo", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@committed
def test_status_json_prints_the_job_as_the_api_has_it(bulkyard, cli, items_file):
    job_id = _submitted(cli, items_file(5), "-f", "-q")

    done = bulkyard("status", job_id, "--json")

    job = json.loads(done.stdout)
    assert (done.returncode, job["id"], job["status"], job["succeeded_items"]) == (
        0,
        job_id,
        "succeeded",
        5,
    )


@committed
def test_kinds_lists_every_kind_with_its_title(bulkyard):
    done = bulkyard("kinds")

    assert done.returncode == 0, done.stderr
    assert "Echo (tests only)" in done.stdout
    assert "none (finds its own items)" in done.stdout  # data.export


def test_a_bad_token_is_one_clear_line_and_exit_5(cli_server, tmp_path):
    env = client_env(tmp_path, BULKYARD_URL=cli_server, BULKYARD_TOKEN="not-a-token")

    done = run_cli(["kinds"], env)

    assert done.returncode == 5
    assert done.stderr.startswith("bulkyard: Invalid token. (authentication_failed, HTTP 401)")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


@committed
def test_jobs_lists_the_users_jobs(cli, items_file):
    job_id = _submitted(cli, items_file(2))

    done = cli("jobs", "--json")

    assert [job["id"] for job in json.loads(done.stdout)] == [job_id]


@committed
def test_results_stream_to_stdout_as_json_lines(cli, items_file):
    job_id = _submitted(cli, items_file(3), "-f", "-q")

    done = cli("results", job_id, "--format", "jsonl")

    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["item"], line["outcome"]) for line in lines] == [
        (1, "succeeded"),
        (2, "succeeded"),
        (3, "succeeded"),
    ]


@committed
def test_output_downloads_the_jobs_output_file(cli, tmp_path):
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"id": "a", "text": "One sentence."}\n{"id": "b", "text": "Two. Three."}\n')
    submitted = cli("submit", str(texts), "-k", "text.process", "-f", "-q")
    target = tmp_path / "documents.jsonl"

    done = cli("output", submitted.stdout.strip(), "-o", str(target))

    assert (submitted.returncode, done.returncode) == (0, 0), done.stderr
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == ["a", "b"]


@committed
def test_pause_holds_a_job_and_resume_lets_it_finish(cli, items_file):
    slow = json.dumps({"sleep_per_item": 0.05})
    job_id = _submitted(cli, items_file(40), "--chunk-size", "5", "-p", slow)

    paused = cli("pause", job_id)
    held = json.loads(cli("status", job_id, "--json").stdout)
    resumed = cli("resume", job_id)
    watched = cli("watch", job_id, "-q")

    assert (paused.stdout, held["status"]) == ("paused\n", "paused"), paused.stderr
    assert resumed.stdout.strip() in ("queued", "running"), resumed.stderr
    assert watched.returncode == 0, watched.stderr


@committed
def test_results_unprocessed_writes_the_items_a_cancel_left_as_they_were_sent(
    cli, items_file, tmp_path
):
    sent = items_file(40)
    slow = json.dumps({"sleep_per_item": 0.05})
    job_id = _submitted(cli, sent, "--chunk-size", "5", "-p", slow)
    cli("cancel", job_id)
    assert cli("watch", job_id, "-q").returncode == 3
    target = tmp_path / "rest.jsonl"

    done = cli("results", job_id, "--unprocessed", "-o", str(target))

    job = json.loads(cli("status", job_id, "--json").stdout)
    rest = target.read_text().splitlines()
    assert done.returncode == 0, done.stderr
    # Cancelled before it was planned, it is the whole input.
    assert len(rest) == 40 - job["processed_items"] > 0
    assert set(rest) <= set(sent.read_text().splitlines())
