"""Whole-system tests through real HTTP: a client, the ASGI server, a real
worker, the database; and the README's run command on its embedded defaults."""

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import websockets
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.support import servers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FINISHED = {"succeeded", "completed_with_errors", "failed", "cancelled"}


def _follow(client: httpx.Client, url: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(url).raise_for_status().json()
        if job["status"] in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}: {job}"
        time.sleep(0.2)


def _text_csv(rows: int) -> bytes:
    lines = ["id,text"] + [f"{n},Sentence number {n}. It has a few words!" for n in range(rows)]
    lines.insert(1000, "broken,row,with,too,many,fields")
    return ("\n".join(lines) + "\n").encode()


def test_upload_over_http_is_processed_by_a_worker_and_results_download(asgi_server):
    token = Token.objects.create(user=UserFactory()).key
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=asgi_server, headers=headers, timeout=30) as client:
        response = client.post(
            "/api/v1/jobs/",
            data={"kind": "text.stats", "chunk_size": "500"},
            files={"file": ("texts.csv", _text_csv(2500), "text/csv")},
        )
        assert response.status_code == 202, response.text
        assert response.headers["Location"].startswith(asgi_server)

        job = _follow(client, response.headers["Location"])

        assert job["status"] == "completed_with_errors"
        assert (job["total_items"], job["succeeded_items"], job["failed_items"]) == (2501, 2500, 1)
        assert job["progress"]["percent"] == 100.0
        assert job["summary"]["documents"] == 2500

        with client.stream("GET", job["links"]["results"]) as download:
            assert download.status_code == 200
            body = b"".join(download.iter_bytes()).decode()
        rows = list(csv.DictReader(io.StringIO(body)))
        assert len(rows) == 2501
        failed = [row for row in rows if row["outcome"] == "failed"]
        assert [(row["item"], row["code"]) for row in failed] == [("1001", "wrong_field_count")]


def test_run_command_serves_jobs_on_the_embedded_defaults(tmp_path):
    """`bin/run` with no DATABASE_URL / REDIS_URL / DJANGO_SECRET_KEY: SQLite, a
    file broker, a key file, web, worker and beat, driven like a new user would
    drive them."""
    port = servers.free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
        and not key.startswith("BULKYARD_")
        # The test run's metrics folder: bin/run empties the one it is given.
        and key not in ("DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR")
    }
    env |= {"BULKYARD_VAR_DIR": str(tmp_path / "var"), "BULKYARD_PORT": str(port)}
    log = tmp_path / "run.log"
    proc = servers.start(["bin/run"], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        servers.wait_http(f"{base}/health/", proc=proc, log=log, timeout=180)
        token = subprocess.run(
            [sys.executable, "manage.py", "create_api_user", "admin", "--staff", "--token-only"],
            cwd=servers.ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            sample = (servers.ROOT / "samples" / "texts.csv").read_bytes()
            response = client.post(
                "/api/v1/jobs/",
                data={"kind": "text.stats"},
                files={"file": ("texts.csv", sample, "text/csv")},
            )
            assert response.status_code == 202, response.text
            ticket = client.post("/api/v1/ws-ticket/").json()["ticket"]
            streamed, _ = _websocket_messages(
                response.json()["links"]["websocket"] + f"?ticket={ticket}"
            )
            job = _follow(client, response.headers["Location"])
            deadline = time.monotonic() + 30  # reports are reused for a few seconds
            while (health := client.get("/health/").json())["status"] != "ok":
                assert time.monotonic() < deadline, health
                time.sleep(1)
    finally:
        servers.stop(proc)

    assert job["status"] == "completed_with_errors"
    assert (job["succeeded_items"], job["failed_items"]) == (8, 1)
    # The in-memory channel layer cannot carry the worker's events: the stream
    # still ends with the final state, read from the database.
    assert streamed[0]["type"] == "job.snapshot"
    assert streamed[-1]["type"] == "job.finished"
    assert streamed[-1]["job"]["succeeded_items"] == 8
    assert health["checks"]["database"]["vendor"] == "sqlite"
    assert health["checks"]["broker"]["transport"] == "filesystem"
    assert health["status"] == "ok"


def _websocket_messages(url: str, timeout: float = 90) -> tuple[list[dict], int | None]:
    """Every message of a job stream, and the close code, read by a client
    outside Django (the `websockets` library)."""

    async def follow() -> tuple[list[dict], int | None]:
        async with websockets.connect(url, open_timeout=10) as socket:
            messages = [json.loads(raw) async for raw in socket]
            return messages, socket.close_code

    return asyncio.run(asyncio.wait_for(follow(), timeout))


def test_a_websocket_client_follows_a_job_from_start_to_finish(asgi_server):
    """Against the running ASGI server, authenticated with a ticket, while a
    real worker runs the job."""
    token = Token.objects.create(user=UserFactory()).key
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=asgi_server, headers=headers, timeout=30) as client:
        items = [{"n": n} for n in range(60)]
        created = client.post(
            "/api/v1/jobs/",
            json={"kind": "test.echo", "items": items, "params": {"sleep_per_item": 0.03}},
        ).json()
        ticket = client.post("/api/v1/ws-ticket/").json()["ticket"]
    url = created["links"]["websocket"] + f"?ticket={ticket}"
    assert url.startswith("ws://127.0.0.1:")

    messages, close_code = _websocket_messages(url)

    types = [message["type"] for message in messages]
    assert types[0] == "job.snapshot"
    assert types[-1] == "job.finished"
    assert "job.progress" in types
    assert "job.status" in types
    progress = [m["processed_items"] for m in messages if m["type"] == "job.progress"]
    assert progress == sorted(progress)
    assert messages[-1]["job"]["status"] == "succeeded"
    assert messages[-1]["job"]["processed_items"] == 60
    assert close_code == 1000
