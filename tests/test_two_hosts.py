"""Two worker hosts and a web host that share no disk, on object storage
(issue 20): a job of every kind succeeds and its output downloads through the
API; a purge leaves no object behind.

Each process has a media root and a scratch folder nobody else reads
(tests/support/hosts.py); files cross from one to another only through the
S3 bucket (moto's server over HTTP). The deployment runs on a database and a
Redis of its own, so that the test run's own worker takes none of its jobs.
"""

import csv
import gzip
import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.files import image, opened, zip_members, zip_of
from tests.support.hosts import FIRST, SECOND, WEB, HostsStack, bucket_keys
from tests.support.stack import FINISHED, contacts_csv

pytestmark = pytest.mark.integration

PREFIX = f"two-hosts/{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def hosts(
    private_postgres, s3_server, _session_smtp, _session_http, tmp_path_factory
) -> Iterator[HostsStack]:
    if not private_postgres.running:  # a fault test stopped it
        private_postgres.start()
    overrides = {
        **s3_server.settings(PREFIX),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(_session_smtp.port),
        "BULKYARD_HTTP_ALLOWED_HOSTS": f"127.0.0.1:{_session_http.port}",
    }
    stack = HostsStack(
        pg=private_postgres, workdir=tmp_path_factory.mktemp("hosts"), overrides=overrides
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


def _submit(
    hosts: HostsStack,
    *,
    kind: str,
    params: dict[str, Any],
    file: tuple[str, bytes, str] | None = None,
    chunk_size: int | None = None,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> str:
    """A job submitted to the web host over HTTP, as a client would; its id."""
    data = {"kind": kind, "params": json.dumps(params)}
    if chunk_size:
        data["chunk_size"] = str(chunk_size)
    files = [("file", file)] if file else []
    files += [("attachments", attachment) for attachment in attachments]
    with hosts.client() as client:
        if files:
            response = client.post("/jobs/", data=data, files=files)
        else:
            response = client.post("/jobs/", json={**data, "params": params})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _finished(hosts: HostsStack, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """The job as the API shows it once it has finished."""
    deadline = time.monotonic() + timeout
    with hosts.client() as client:
        while True:
            job = client.get(f"/jobs/{job_id}/").raise_for_status().json()
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job still {job['status']}: {job}\n{hosts.logs()}")
            time.sleep(0.2)


def _download(hosts: HostsStack, url: str) -> bytes:
    """A download streamed by the web host (results come from the database)."""
    with hosts.client(timeout=60) as client:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return response.content


def _output(hosts: HostsStack, job: dict[str, Any]) -> bytes:
    """The job's output file: the API answers with a redirect to a presigned
    URL of the bucket (the web host has no copy of it), which a client
    follows without its API token, as the CLI does."""
    with hosts.client() as client:
        redirect = client.get(job["links"]["output"])
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["Location"]
    assert location.startswith(hosts.env["BULKYARD_S3_ENDPOINT_URL"] + "/"), location
    response = httpx.get(location, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def _results(hosts: HostsStack, job: dict[str, Any]) -> list[dict[str, Any]]:
    body = _download(hosts, job["links"]["results"] + "?format=jsonl")
    return [json.loads(line) for line in body.decode().splitlines()]


def _local_files(hosts: HostsStack) -> list[str]:
    """Files in any host's media root: there should be none, every file of a
    job is in the bucket."""
    return [
        str(path)
        for host in (WEB, FIRST, SECOND)
        for path in hosts.media_root(host).rglob("*")
        if path.is_file()
    ]


def _contacts(hosts: HostsStack, email_like: str) -> tuple[int, float]:
    row = hosts.rows(
        "SELECT count(*) AS n, coalesce(sum(amount), 0) AS total "
        "FROM bulkyard_data_contact WHERE email LIKE %s",
        [email_like],
    )[0]
    return row["n"], float(row["total"])


def test_an_import_reads_its_chunks_of_the_upload_from_the_bucket(hosts):
    content = contacts_csv(40, start=1000) + b"bad@example.com,Bad,old,Nowhere,1.00\n"

    job_id = _submit(
        hosts,
        kind="data.import",
        params={"target": "contacts"},
        file=("contacts.csv", content, "text/csv"),
        chunk_size=10,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "completed_with_errors", job
    assert (job["succeeded_items"], job["failed_items"], job["chunks"]["total"]) == (40, 1, 5)
    assert _contacts(hosts, "c1%@example.com") == (40, sum(n + 0.5 for n in range(1000, 1040)))
    [failed] = _results(hosts, job)
    # Items are numbered by their line: the header is line 1.
    assert (failed["item"], failed["code"]) == (42, "invalid_value")
    assert _local_files(hosts) == []


def test_a_gzip_import_is_read_from_the_bucket_in_several_chunks(hosts):
    content = gzip.compress(contacts_csv(30, start=2000))

    job_id = _submit(
        hosts,
        kind="data.import",
        params={"target": "contacts"},
        file=("contacts.csv.gz", content, "application/gzip"),
        chunk_size=10,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    assert (job["succeeded_items"], job["chunks"]["total"]) == (30, 3)
    assert _contacts(hosts, "c2%@example.com") == (30, sum(n + 0.5 for n in range(2000, 2030)))
    assert _local_files(hosts) == []


def test_an_export_written_by_a_worker_downloads_through_a_link_to_the_bucket(hosts):
    imported = _submit(
        hosts,
        kind="data.import",
        params={"target": "contacts"},
        file=("contacts.csv", contacts_csv(25, start=3000), "text/csv"),
    )
    assert _finished(hosts, imported)["status"] == "succeeded"

    job_id = _submit(
        hosts,
        kind="data.export",
        params={
            "target": "contacts",
            "fields": ["email", "amount"],
            "filter": {"email__startswith": "c3"},
            "gzip": True,
        },
        chunk_size=10,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    assert job["chunks"]["total"] >= 2
    body = gzip.decompress(_output(hosts, job)).decode()
    rows = sorted((row["email"], row["amount"]) for row in csv.DictReader(io.StringIO(body)))
    assert rows == sorted((f"c{n}@example.com", f"{n}.50") for n in range(3000, 3025))
    assert _local_files(hosts) == []


def test_emails_carry_the_attachment_uploaded_to_the_web_host(hosts, smtp):
    recipients = [f"r{n}@example.com" for n in range(5)]
    content = ("email,name\n" + "".join(f"{r},R{n}\n" for n, r in enumerate(recipients))).encode()
    terms = b"%PDF-1.4 the terms\x00\xff"

    job_id = _submit(
        hosts,
        kind="email.send",
        params={"subject": "Hello {{ name }}", "text": "Hi {{ name }}, see the terms."},
        file=("people.csv", content, "text/csv"),
        chunk_size=2,
        attachments=(("terms.pdf", terms, "application/pdf"),),
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    assert job["chunks"]["total"] == 3
    for n, recipient in enumerate(recipients):
        [message] = smtp.messages_to(recipient)
        assert message["Subject"] == f"Hello R{n}"
        [attachment] = message.iter_attachments()
        assert (attachment.get_filename(), attachment.get_content()) == ("terms.pdf", terms)
    results = _results(hosts, job)
    assert sorted(row["output"]["recipient"] for row in results) == recipients
    assert _local_files(hosts) == []


def test_images_of_a_zip_come_back_resized_in_a_zip_from_the_bucket(hosts):
    pictures = {f"photos/p{n}.png": image(120 + 10 * n, 60, format="PNG") for n in range(4)}

    job_id = _submit(
        hosts,
        kind="image.process",
        params={"sizes": [{"name": "thumb", "width": 40, "height": 40}]},
        file=("photos.zip", zip_of(pictures), "application/zip"),
        chunk_size=2,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    assert job["chunks"]["total"] == 2
    members = zip_members(_output(hosts, job))
    sizes = {name: opened(content).size for name, content in members.items()}
    assert sizes == {
        f"thumb/photos/p{n}.png": (40, round(40 * 60 / (120 + 10 * n))) for n in range(4)
    }
    assert _local_files(hosts) == []


def test_text_keywords_rank_pending_parts_written_on_either_host(hosts):
    documents = [
        "Invoice for the garden shovel. Garden tools are on sale.",
        "Invoice for the kitchen kettle. Kettle descaler included.",
        "Invoice for the garden hose.",
        "Invoice for a bicycle bell.",
    ]
    content = "id,text\n" + "".join(f"d{n},{text}\n" for n, text in enumerate(documents))

    job_id = _submit(
        hosts,
        kind="text.process",
        params={"analyse": {"keywords": 2, "language": False}},
        file=("documents.csv", content.encode(), "text/csv"),
        chunk_size=2,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    passes = hosts.rows(
        "SELECT pass_number FROM bulkyard_jobs_chunk WHERE job_id = %s ORDER BY 1", [job_id]
    )
    assert [row["pass_number"] for row in passes] == [1, 1, 2, 2]
    body = _output(hosts, job).decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert [(row["id"], row["keywords"]) for row in rows] == [
        ("d0", ["garden", "sale"]),
        ("d1", ["kettle", "descaler"]),
        ("d2", ["hose", "garden"]),
        ("d3", ["bell", "bicycle"]),
    ]
    assert _local_files(hosts) == []


def test_http_requests_of_an_upload_reach_the_server(hosts, http_server):
    content = b"id\n" + b"".join(b"%d\n" % n for n in range(6))

    job_id = _submit(
        hosts,
        kind="http.request",
        params={"request": {"method": "GET", "url": f"{http_server.url}/echo/{{id}}"}},
        file=("calls.csv", content, "text/csv"),
        chunk_size=2,
    )

    job = _finished(hosts, job_id)
    assert job["status"] == "succeeded", job
    assert job["chunks"]["total"] == 3
    assert sorted(hit.path for hit in http_server.hits("/echo/")) == [
        f"/echo/{n}" for n in range(6)
    ]
    statuses = sorted((row["item"], row["output"]["status"]) for row in _results(hosts, job))
    assert statuses == [(line, 200) for line in range(2, 8)]
    assert _local_files(hosts) == []


def test_both_worker_hosts_run_chunks_of_one_job(hosts):
    # Slow chunks, more of them than one worker's two processes hold (each
    # takes a wake-up at a time, acknowledged at its end): the wake-ups that
    # planning sends, one a chunk, reach both workers.
    content = b"n\n" + b"".join(b"%d\n" % n for n in range(24))

    job_id = _submit(
        hosts,
        kind="test.echo",
        params={"sleep_per_item": 0.1},
        file=("items.csv", content, "text/csv"),
        chunk_size=3,
    )

    job = _finished(hosts, job_id)
    assert (job["status"], job["chunks"]["total"]) == ("succeeded", 8)
    first = hosts.chunks_run_by(hosts.worker, job_id)
    second = hosts.chunks_run_by(hosts.second_worker, job_id)
    chunks = hosts.rows("SELECT id FROM bulkyard_jobs_chunk WHERE job_id = %s", [job_id])
    assert sorted(first + second) == sorted(row["id"] for row in chunks)
    assert first, hosts.logs()
    assert second, hosts.logs()


def test_a_purge_on_a_worker_host_deletes_every_object_of_the_jobs(hosts, s3_server, smtp):
    job_ids = [
        _submit(
            hosts,
            kind="email.send",
            params={"subject": "Hi", "text": "Hello."},
            file=("people.csv", b"email\np0@example.com\np1@example.com\n", "text/csv"),
            chunk_size=1,
            attachments=(("terms.txt", b"terms", "text/plain"),),
        ),
        _submit(
            hosts,
            kind="text.process",
            params={"analyse": {"keywords": 1, "language": False}},
            file=("documents.csv", b"id,text\n1,Garden hose.\n2,Kitchen kettle.\n", "text/csv"),
            chunk_size=1,
        ),
    ]
    for job_id in job_ids:
        assert _finished(hosts, job_id)["status"] == "succeeded"
    assert bucket_keys(s3_server, PREFIX) != []

    purge = hosts.manage_on(SECOND, "purge_jobs", "--older-than-days", "0")

    assert purge.returncode == 0, purge.stderr
    assert bucket_keys(s3_server, PREFIX) == []
    with hosts.client() as client:
        assert [client.get(f"/jobs/{job_id}/").status_code for job_id in job_ids] == [404, 404]


@pytest.mark.parametrize("host", [WEB, FIRST, SECOND])
def test_a_host_on_an_unshared_local_media_root_refuses_to_start(private_postgres, tmp_path, host):
    if not private_postgres.running:  # a fault test stopped it
        private_postgres.start()
    # The same deployment on the local folders of each host: each would keep
    # the files it wrote, and a job would find no input or no output.
    stack = HostsStack(pg=private_postgres, workdir=tmp_path)
    try:
        status, output = stack.run_to_exit(host)
    finally:
        stack.stop()

    assert status != 0
    assert "BULKYARD_MULTI_HOST=true with BULKYARD_STORAGE=local" in output
    assert "BULKYARD_SHARED_MEDIA=true" in output
