"""What the benches share: the services they run on, the processes they start,
how they watch those processes, how they submit a job and wait for it, and how
they print their verdicts.

Every bench works on the same throwaway resources: the PostgreSQL database
``bulkyard_bench`` (dropped and created afresh), Redis database 14 (flushed at
the start and at the end), and a scratch folder under the system temp dir that
holds the media, the var folder and the logs; ``BULKYARD_ENV_FILE`` points at a
file that does not exist, so a developer's ``.env`` cannot change a figure. All
of it is removed at the end unless the bench was asked to ``--keep`` it.

Benches import this module as ``_support``: run as ``python bench/<name>.py``,
the ``bench`` folder is first on ``sys.path``. Nothing here imports Django; the
processes the benches start do.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
import websockets
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
DB_NAME = "bulkyard_bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
DB_URL = DATABASE_URL.replace("postgres://", "postgresql://", 1)  # psycopg's spelling
REDIS_URL = "redis://127.0.0.1:6379/14"
MB = 1024 * 1024
FINAL_STATUSES = frozenset({"succeeded", "completed_with_errors", "failed", "cancelled"})
SAMPLE_SECONDS = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- Database, Redis and the scratch folder -----------------------------------------------


def drop_database() -> None:
    """Drop the bench database, closing any connection still open to it."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(query.format(sql.Identifier(DB_NAME)))


def recreate_database() -> None:
    drop_database()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def flush_redis() -> int:
    """Empty the bench's Redis database; return how many keys it held."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = int(client.dbsize())
        client.flushdb()
        return keys
    finally:
        client.close()


def connect() -> psycopg.Connection[Any]:
    """A connection to the bench database, in autocommit mode."""
    return psycopg.connect(DB_URL, autocommit=True)


def service_env(scratch: Path, upload_bytes: int) -> dict[str, str]:
    """The environment of every process a bench starts: the bench database and
    Redis, folders in ``scratch``, no ``.env``, uploads of ``upload_bytes``
    accepted, throttling out of the way (still counted on every request)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            # One key for every process of the bench (web, worker, commands).
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            # A path that does not exist: a developer's .env must not change the bench.
            "BULKYARD_ENV_FILE": str(scratch / "no.env"),
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "BULKYARD_VAR_DIR": str(scratch / "var"),
            "DJANGO_MEDIA_ROOT": str(scratch / "media"),
            "DJANGO_STATIC_ROOT": str(scratch / "static"),
            "BULKYARD_MAX_UPLOAD_BYTES": str(max(512 * MB, 2 * upload_bytes)),
            "API_THROTTLE_USER": "100000/min",
            "API_THROTTLE_JOB_CREATE": "100000/min",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _output(command: list[str], *, name: str, env: dict[str, str], tail: int) -> str:
    """What ``command`` (run from the repository root) prints; an error naming
    it, with the last ``tail`` characters of its output, if it fails."""
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = f"{result.stdout}\n{result.stderr}"
        raise RuntimeError(f"{name} failed ({result.returncode}):\n{output[-tail:]}")
    return result.stdout


def manage(env: dict[str, str], *args: str) -> str:
    """What ``manage.py args...`` prints; an error if it fails."""
    return _output(
        [PYTHON, "manage.py", *args], name=f"manage.py {' '.join(args)}", env=env, tail=20_000
    )


def bench_user(env: dict[str, str]) -> str:
    """The bench database migrated and the user ``bench`` made, allowed to use
    the contacts target; its API token."""
    manage(env, "migrate", "--no-input")
    token = manage(env, "create_api_user", "bench", "--token-only").strip()
    # A plain user may not use the contacts target until granted.
    manage(env, "grant_target", "bench", "contacts")
    return token


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


def tear_down(*, keep: bool, db_created: bool, scratch: Path) -> None:
    """Flush the bench's Redis db, then drop the database and the scratch
    folder (unless ``keep``), even when the flush fails."""
    try:
        left = flush_redis()
        print(f"redis {REDIS_URL}: flushed at the end ({left} keys, nothing left queued)")
    finally:
        if keep:
            print(f"kept: database {DB_NAME} and {scratch}")
        else:
            if db_created:
                drop_database()
                print(f"database {DB_NAME}: dropped")
            shutil.rmtree(scratch, ignore_errors=True)


# --- Processes: the API, a worker, peers, helper scripts ----------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(
    env: dict[str, str], log_path: Path, *, run_command: bool = False
) -> Iterator[str]:
    """Run uvicorn for the duration of the block; yield its base URL. One
    process, or with ``run_command`` as the run command starts it
    (``python -m config.web``: a process per core, up to 4, or
    ``WEB_CONCURRENCY`` of ``env``)."""
    port = free_port()
    if run_command:
        command = [PYTHON, "-m", "config.web"]
        env = {**env, "BULKYARD_HOST": "127.0.0.1", "BULKYARD_PORT": str(port)}
    else:
        command = [
            PYTHON,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base_url, log_path)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_until_up(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"uvicorn exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        try:
            httpx.get(f"{base_url}/health/", timeout=10)  # any status means it is serving
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(
        f"uvicorn did not answer within 60 s:\n{log_path.read_text(errors='replace')}"
    )


@contextmanager
def celery_worker(
    env: dict[str, str], log_path: Path, *, concurrency: int = 2, name: str = "bench"
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a Celery worker (prefork, ``concurrency`` pool processes, every
    queue) for the duration of the block, with connections kept between
    tasks as docs/deploy.md advises for workers. Several at once need
    different ``name``s (Celery's node names)."""
    worker_env = {**env, "DATABASE_CONN_MAX_AGE": "60"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--queues",
                "bulkyard,bulkyard.io,bulkyard.cpu",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"{name}@%h",
            ],
            cwd=REPO_ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its pool goes with it
        )
    try:
        yield proc
    finally:
        stop_process_group(proc, timeout=60)


def stop_process_group(proc: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM (Celery's warm shutdown) to the group the bench started, then SIGKILL."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftover pool processes, if any
    proc.wait(timeout=10)


def wait_for_worker(
    base_url: str, worker: subprocess.Popen[bytes], log_path: Path, timeout: float = 90
) -> None:
    """Until anonymous ``GET /health/`` reports the worker (reports are cached 5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(
                f"the Celery worker exited with {worker.returncode}:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        report = httpx.get(f"{base_url}/health/", timeout=10).json()
        if report.get("checks", {}).get("workers", {}).get("ok"):
            return
        time.sleep(1)
    raise RuntimeError(
        f"no worker answered within {timeout:.0f} s:\n{log_path.read_text(errors='replace')}"
    )


@contextmanager
def api_and_worker(
    env: dict[str, str], scratch: Path, *, concurrency: int, run_command: bool = False
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """The database migrated, an API token, uvicorn and a Celery worker with
    ``concurrency`` pool processes: an authenticated client and the worker.
    uvicorn is one process, or with ``run_command`` started as the run command
    starts it (``python -m config.web``). If the block fails, the end of the
    worker's log is printed."""
    token = bench_user(env)
    worker_log = scratch / "worker.log"
    try:
        with (
            uvicorn_server(env, scratch / "uvicorn.log", run_command=run_command) as base_url,
            celery_worker(env, worker_log, concurrency=concurrency) as worker,
        ):
            wait_for_worker(base_url, worker, worker_log)
            print(f"uvicorn at {base_url}; worker pid {worker.pid}, {concurrency} pool processes")
            headers = {"Authorization": f"Token {token}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
                yield client, worker
    except Exception:
        if worker_log.exists() and worker_log.stat().st_size:
            print(f"\n--- worker log (last 8000 characters of {worker_log}) ---")
            print(worker_log.read_text(errors="replace")[-8000:])
        raise


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


def script_figures(script: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench/<script>`` (a helper that measures in a process of its own and
    prints its figures as one JSON line last); those figures."""
    stdout = _output(
        [PYTHON, str(BENCH_DIR / script), *args],
        name=f"{script} {' '.join(args[:1])}",
        env=env,
        tail=5000,
    )
    figures: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return figures


# --- Watching processes through /proc -----------------------------------------------------


def read_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def rss_bytes(pid: int) -> int:
    """Resident set size of a live process (``VmRSS``); 0 if it is gone."""
    try:
        value = read_status(pid).get("VmRSS", "0 kB")
    except OSError:
        return 0
    return int(value.split()[0]) * 1024


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="utf-8") as listing:
                kids.extend(int(word) for word in listing.read().split())
        except OSError:
            continue
    return kids


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = children(pid)
    while todo:
        kid = todo.pop()
        found.append(kid)
        todo.extend(children(kid))
    return found


def cpu_seconds(pid: int, *, reaped: bool = True) -> float:
    """CPU time (user + system) of a process, plus (``reaped``) that of the children
    it has waited for; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            text = stat.read()
    except OSError:
        return 0.0
    # Fields after the command name, which is in parentheses and may hold spaces.
    values = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in values[11:15])
    ticks = utime + stime + ((cutime + cstime) if reaped else 0)
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its live descendants."""
    return cpu_seconds(pid) + sum(cpu_seconds(kid) for kid in descendants(pid))


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    return text[:60]


def child_running(word: str) -> int | None:
    """A child of this process whose command line holds ``word``."""
    for pid in children(os.getpid()):
        if word in process_name(pid):
            return pid
    return None


def postmaster_pid() -> int:
    """The PostgreSQL server process (the parent of our backend), for CPU accounting."""
    with connect() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # Read while connected: the backend process ends with the connection.
        return int(read_status(int(row[0]))["PPid"])


def database_backends_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database
    now, by pid: unlike the whole server's, not shared with the other
    databases of a busy machine. A backend that ends between two readings
    takes its CPU with it, so take them while the processes that hold the
    connections (workers with ``DATABASE_CONN_MAX_AGE``, uvicorn's pool) live."""
    with connect() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        ).fetchall()
    return {int(pid): cpu_seconds(int(pid), reaped=False) for (pid,) in rows}


def backends_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the bench database's backends used since ``before``
    (``database_backends_cpu``); backends that connected since count whole."""
    now = database_backends_cpu()
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


@dataclass(slots=True)
class RssPeaks:
    """Highest RSS seen per process, and of the whole tree at one sample."""

    per_process: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    total: int = 0
    samples: int = 0

    @property
    def max_process(self) -> int:
        return max(self.per_process.values(), default=0)


class RssSampler:
    """Samples the RSS of a process tree in a thread while the block runs."""

    def __init__(self, root_pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.peaks = RssPeaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        peaks = self.peaks
        total = 0
        for pid in [self.root_pid, *descendants(self.root_pid)]:
            rss = rss_bytes(pid)
            total += rss
            if rss > peaks.per_process.get(pid, 0):
                peaks.per_process[pid] = rss
                if pid not in peaks.names:
                    peaks.names[pid] = process_name(pid)
        peaks.total = max(peaks.total, total)
        peaks.samples += 1


# --- Jobs ---------------------------------------------------------------------------------


def write_contacts(path: Path, rows: int, seed: int) -> int:
    """Write ``rows`` contacts with ``bulkyard.data.samples`` (what the
    ``contacts`` target imports); return the size in bytes."""
    sys.path.insert(0, str(REPO_ROOT))
    from bulkyard.data.samples import write_contacts as write  # plain Python, no Django

    started = time.perf_counter()
    with path.open("w", encoding="utf-8", newline="") as out:
        write(out, rows=rows, seed=seed)
    size = path.stat().st_size
    elapsed = time.perf_counter() - started
    print(f"generated {path.name}: {rows:,} rows, {size / MB:.1f} MB in {elapsed:.1f} s")
    return size


def contacts_size_estimate(rows: int) -> int:
    """Bytes of a contacts CSV of ``rows`` rows, with margin (rows run ~60 bytes)."""
    return 100 * rows + 1024


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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
    per change. Polling ``GET /jobs/{id}/`` would take the API process's CPU
    from the workers on a small machine.
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
    with connect() as conn:
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


# --- Reporting ----------------------------------------------------------------------------


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


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
    """A ratio against an "at least N times" target."""
    return (name, f"{ratio:.{digits}f}x", f">= {target:g}x", ratio >= target)


def rate_check(rate: float, target: float) -> Check:
    """An end-to-end rate against an "at least N per second" target."""
    return ("end to end rate", f"{rate:,.0f}/s", f">= {target:,.0f}/s", rate >= target)


def print_checks(checks: list[Check]) -> None:
    print(f"  {'check':<30s} {'measured':>12s} {'target':>10s}  verdict")
    for name, measured, target, passed in checks:
        print(f"  {name:<30s} {measured:>12s} {target:>10s}  {'PASS' if passed else 'FAIL'}")


# --- Photos for the image benches ---------------------------------------------------------

PHOTO_SIZES = (1600, 800, 200)

# Ways of making the three thumbnails of a photo, each a ``make(source, target)``
# run by PHOTO_RUNNER in a process of its own. "Pillow, plain" is the naive loop
# image.process is measured against.
PHOTO_WAYS = {
    "Pillow, plain": """
from PIL import Image, ImageOps
def make(source, target):
    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image)
        for size in SIZES:
            copy = image.copy()
            copy.thumbnail((size, size), Image.Resampling.LANCZOS)
            copy.save(f"{target}-{size}.jpg", quality=85)
""",
    "Pillow, draft mode": """
from PIL import Image, ImageOps
def make(source, target):
    with Image.open(source) as image:
        image.draft("RGB", (SIZES[0], SIZES[0]))
        image = ImageOps.exif_transpose(image)
        for size in SIZES:
            image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
            image.save(f"{target}-{size}.jpg", quality=85)
""",
    "pyvips": """
import pyvips
def make(source, target):
    for size in SIZES:
        image = pyvips.Image.thumbnail(source, size, height=size, size="down")
        image.write_to_file(f"{target}-{size}.jpg", Q=85, keep="none")
""",
}

# The peak RSS is the process's own (VmHWM, since it started this program):
# getrusage's ru_maxrss would also count the bench's own memory at the fork.
PHOTO_RUNNER = """
import json, sys, time
from pathlib import Path
SIZES = {sizes}
{code}
sources = sorted(Path(sys.argv[1]).glob("*.jpg"))
out = Path(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
for source in sources:
    make(str(source), str(out / source.stem))
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({{
    "images": len(sources),
    "seconds": time.perf_counter() - wall,
    "cpu": time.process_time() - cpu,
    "rss_mb": peak_kb / 1024,
}}))
"""


def make_photos(folder: Path, count: int) -> None:
    """``count`` 3000x2000 JPEG photos (noise over gradients, so they compress
    like photos; every fifth with EXIF orientation 6) in ``folder``."""
    from PIL import Image

    rng = random.Random(5)
    for number in range(count):
        base = Image.linear_gradient("L").resize((3000, 2000))
        noise = Image.effect_noise((3000, 2000), rng.uniform(20, 60))
        red = Image.blend(base, noise, 0.5)
        green = Image.blend(base.rotate(90, expand=False), noise, 0.4)
        photo = Image.merge("RGB", (red, green, noise))
        exif = Image.Exif()
        if number % 5 == 0:
            exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
        photo.save(folder / f"photo-{number:04d}.jpg", quality=90, exif=exif)


def photo_way(
    folder: Path, out: Path, way: str, *, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Run one of PHOTO_WAYS over the photos of ``folder`` into ``out`` in a
    process of its own: images, seconds, CPU seconds and peak RSS (MB)."""
    out.mkdir()
    script = PHOTO_RUNNER.format(sizes=PHOTO_SIZES, code=PHOTO_WAYS[way])
    return dict(json.loads(python_stdout(script, str(folder), str(out), env=env)))
