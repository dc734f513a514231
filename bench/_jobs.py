"""What the throughput benches share: a scratch folder and database, the API
and a worker around them, a job submitted with an upload and waited for,
and the printed summary and verdicts against an issue's targets."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from import_throughput import FINAL_STATUSES, POLL_SECONDS, celery_worker, wait_for_worker
from submit_latency import (
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
    env: dict[str, str], scratch: Path, *, concurrency: int
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """The database migrated, an API token, uvicorn and a Celery worker with
    ``concurrency`` pool processes: an authenticated client and the worker."""
    manage(env, "migrate", "--no-input")
    token = manage(env, "create_api_user", "bench", "--token-only").strip()
    worker_log = scratch / "worker.log"
    with (
        uvicorn_server(env, scratch / "uvicorn.log") as base_url,
        celery_worker(env, worker_log, concurrency=concurrency) as worker,
    ):
        wait_for_worker(base_url, worker, worker_log)
        print(f"uvicorn at {base_url}; worker with {concurrency} pool processes")
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
            yield client, worker


CONTENT_TYPES = {".csv": "text/csv", ".zip": "application/zip"}


def submit_file_and_wait(
    client: httpx.Client, path: Path, *, kind: str, params: dict[str, Any], chunk_size: int
) -> tuple[float, dict[str, Any]]:
    """Seconds from starting the multipart POST of the file at ``path`` until
    polling sees a final status (every ``POLL_SECONDS``), and the job as the API
    shows it then."""
    started = time.perf_counter()
    with path.open("rb") as upload:
        response = client.post(
            "/api/v1/jobs/",
            data={"kind": kind, "params": json.dumps(params), "chunk_size": str(chunk_size)},
            files={"file": (path.name, upload, CONTENT_TYPES.get(path.suffix, "text/csv"))},
        )
    if response.status_code != 202:
        raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
    url = response.json()["url"]
    while (job := client.get(url).json())["status"] not in FINAL_STATUSES:
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started, job


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
