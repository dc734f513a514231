"""What the throughput benches share: a scratch folder and database, the API
and a worker around them, a job submitted with an upload and waited for,
and the printed summary and verdicts against an issue's targets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets
from import_throughput import celery_worker, wait_for_worker
from submit_latency import (
    DATABASE_URL,
    PYTHON,
    REDIS_URL,
    REPO_ROOT,
    flush_redis,
    manage,
    recreate_database,
    tear_down,
    uvicorn_server,
)


def start_peer(script: str, *args: str) -> subprocess.Popen[bytes]:
    """A bench peer (``bench/_smtp_sink.py``, ``bench/_http_server.py``) in its
    own process group, once it says it is listening."""
    peer = subprocess.Popen(
        [PYTHON, script, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, start_new_session=True
    )
    assert peer.stdout is not None
    peer.stdout.readline()  # "listening on ..."
    return peer


def python_stdout(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """What ``python -c code args...`` prints, run from the repository root: how
    each bench runs its baseline in a process of its own."""
    return subprocess.run(
        [PYTHON, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@contextmanager
def scratch_and_database(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A scratch folder, Redis db 14 flushed and the bench database created
    afresh; all removed at the end unless ``keep``."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    print(f"scratch folder: {scratch}")
    db_created = False
    try:
        stale = flush_redis()
        print(f"redis {REDIS_URL}: flushed ({stale} keys were there)")
        recreate_database()
        db_created = True
        yield scratch
    finally:
        tear_down(keep=keep, db_created=db_created, scratch=scratch)


@contextmanager
def api_and_worker(
    env: dict[str, str], scratch: Path, *, concurrency: int, run_command: bool = False
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """The database migrated, an API token, uvicorn and a Celery worker with
    ``concurrency`` pool processes: an authenticated client and the worker.
    uvicorn is one process, or with ``run_command`` started as the run command
    starts it (``python -m config.web``)."""
    manage(env, "migrate", "--no-input")
    token = manage(env, "create_api_user", "bench", "--token-only").strip()
    # A plain user may not use the contacts target until granted.
    manage(env, "grant_target", "bench", "contacts")
    worker_log = scratch / "worker.log"
    with (
        uvicorn_server(env, scratch / "uvicorn.log", run_command=run_command) as base_url,
        celery_worker(env, worker_log, concurrency=concurrency) as worker,
    ):
        wait_for_worker(base_url, worker, worker_log)
        print(f"uvicorn at {base_url}; worker with {concurrency} pool processes")
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
            yield client, worker


CONTENT_TYPES = {".csv": "text/csv", ".zip": "application/zip"}


def submit_file_and_wait(
    client: httpx.Client,
    path: Path,
    *,
    kind: str,
    params: dict[str, Any],
    chunk_size: int,
) -> tuple[float, dict[str, Any]]:
    """Seconds from starting the multipart POST of the file at ``path`` until
    the client learns the job ended, and the job as the API shows it then.

    The client waits on the job's WebSocket, as a client following a long job
    would: the server pushes the end the moment it happens and does one read
    per change. Polling ``GET /jobs/{id}/`` every 0.2 s (what these benches did
    before) cost the API process ~7 ms of CPU a poll, 5 % of a core taken from
    the workers on a small machine.
    """
    started = time.perf_counter()
    with path.open("rb") as upload:
        response = client.post(
            "/api/v1/jobs/",
            data={"kind": kind, "params": json.dumps(params), "chunk_size": str(chunk_size)},
            files={"file": (path.name, upload, CONTENT_TYPES.get(path.suffix, "text/csv"))},
        )
    if response.status_code != 202:
        raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
    job = asyncio.run(_job_end_pushed(client, response.json()["id"]))
    return time.perf_counter() - started, job


async def _job_end_pushed(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job's final state, from its WebSocket (``job.finished``)."""
    ticket = client.post("/api/v1/ws-ticket/").raise_for_status().json()["ticket"]
    base = str(client.base_url).replace("http", "ws", 1).rstrip("/")
    url = f"{base}/ws/jobs/{job_id}/?ticket={ticket}"
    async with websockets.connect(url, open_timeout=30, max_size=None) as socket:
        async for raw in socket:
            message = json.loads(raw)
            if message["type"] == "job.finished":
                return dict(message["job"])
            if message["type"] == "error":
                raise RuntimeError(f"job stream: {message}")
    raise RuntimeError("the job stream closed before the job finished")


TIMELINE_SQL = """
SELECT pass_number, count(*), min(started_at), max(finished_at),
       sum(extract(epoch FROM finished_at - started_at))
FROM bulkyard_jobs_chunk WHERE job_id = %s GROUP BY pass_number ORDER BY pass_number
"""


def print_timeline(job_id: str, seconds: float, *, processes: int) -> None:
    """Where a job's ``seconds`` (as the client measured them) went, from the
    database's timestamps: the upload until the job existed, planning, each
    pass (with how busy the pool processes were) and the finish step."""
    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute(
            "SELECT created_at, finished_at FROM bulkyard_jobs_job WHERE id = %s", [job_id]
        ).fetchone()
        assert row is not None, f"job {job_id} is not in the bench database"
        created, finished = row
        passes = conn.execute(TIMELINE_SQL, [job_id]).fetchall()
    job_seconds = (finished - created).total_seconds()
    lines = [("upload, and word of the end reaching the client", seconds - job_seconds)]
    previous_end = created
    for number, chunks, first_start, last_end, busy in passes:
        gap = (first_start - previous_end).total_seconds()
        lines.append(("planning" if number == 1 else "between passes", gap))
        span = (last_end - first_start).total_seconds()
        use = float(busy) / (span * processes) if span else 0.0
        lines.append((f"pass {number}: {chunks} chunks, {use:.1%} of {processes} processes", span))
        previous_end = last_end
    lines.append(("finish", (finished - previous_end).total_seconds()))
    print("  timeline:")
    for name, part in lines:
        print(f"    {name:<50s} {part:7.2f} s")


def print_summary(title: str, rates: list[tuple[str, float, str]]) -> None:
    print("\n" + "=" * 78)
    print(title)
    print("=" * 78)
    for name, rate, unit in rates:
        shown = f"{rate:,.1f}" if rate < 100 else f"{rate:,.0f}"
        print(f"  {name:<46s} {shown:>12s} {unit}")
    print()


Check = tuple[str, str, str, bool]  # name, measured, target, passed


def ratio_check(name: str, ratio: float, target: float, *, digits: int = 2) -> Check:
    """A ratio against the issue's "at least N times" target."""
    return (name, f"{ratio:.{digits}f}x", f">= {target:g}x", ratio >= target)


def rate_check(rate: float, target: float) -> Check:
    """An end-to-end rate against the issue's "at least N per second" target."""
    return ("end to end rate", f"{rate:,.0f}/s", f">= {target:,.0f}/s", rate >= target)


def print_checks(checks: list[Check]) -> None:
    print(f"  {'check':<30s} {'measured':>12s} {'target':>10s}  verdict")
    for name, measured, target, passed in checks:
        print(f"  {name:<30s} {measured:>12s} {target:>10s}  {'PASS' if passed else 'FAIL'}")
