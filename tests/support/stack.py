"""A whole Bulkyard deployment on private servers, for fault tests.

The service runs as it does in production, with the production settings
module and its default timings (lease, sweep interval, requeue delays): a
recovery bound a fault test measures is the one users get. Only the servers
are the tests' own: a private PostgreSQL (one cluster per test session, a
database per test, cloned from a migrated template) and a private Redis per
test, both of which a test may stop, kill and start again.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from tests.support import servers
from tests.support.kinds import LEDGER_TABLE
from tests.support.private import PrivatePostgres, PrivateRedis
from tests.support.worker import ROOT, BeatProcess, WorkerProcess

TEMPLATE_DATABASE = "bulkyard_template"
FINISHED = {"succeeded", "completed_with_errors", "failed", "cancelled"}
# Settings the test run's own settings module put in the environment; the
# stack must run on the production defaults instead.
_OWN_PREFIXES = ("BULKYARD_", "DJANGO_", "CELERY_", "DATABASE_", "EMAIL_")
_OWN_NAMES = {"REDIS_URL", "CACHE_URL", "CHANNEL_LAYER_URL", "LOG_LEVEL"}


def production_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the test settings' values, plus
    ``overrides``: what a deployment would run with."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_OWN_PREFIXES) and name not in _OWN_NAMES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        BULKYARD_EXTRA_KIND_MODULES="tests.support.kinds",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def migrated_cluster() -> PrivatePostgres:
    """A started private cluster holding a migrated template database."""
    cluster = PrivatePostgres()
    cluster.start()
    cluster.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=production_env(DATABASE_URL=cluster.url(TEMPLATE_DATABASE)),
        check=True,
        capture_output=True,
    )
    cluster.execute(
        f"CREATE TABLE {LEDGER_TABLE} "
        "(id bigserial PRIMARY KEY, job_id uuid NOT NULL, item_number bigint NOT NULL)",
        database=TEMPLATE_DATABASE,
    )
    return cluster


@dataclass
class Stack:
    """One deployment: its servers, its processes and a signed-in API user."""

    pg: PrivatePostgres
    workdir: Path
    broker_url: str | None = None
    # Settings that differ from production's for this deployment.
    overrides: dict[str, str] = field(default_factory=dict)
    database: str = field(default_factory=lambda: "t_" + uuid.uuid4().hex[:12])
    redis: PrivateRedis = field(init=False)
    env: dict[str, str] = field(init=False)
    worker: WorkerProcess = field(init=False)
    beat: BeatProcess = field(init=False)
    web: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    token: str = ""

    def __post_init__(self) -> None:
        self.pg.execute(f"CREATE DATABASE {self.database} TEMPLATE {TEMPLATE_DATABASE}")
        self.redis = PrivateRedis(self.workdir)
        self.redis.start()
        media = self.workdir / "media"
        media.mkdir()
        self.env = production_env(
            DATABASE_URL=self.pg.url(self.database),
            REDIS_URL=self.redis.url,
            DJANGO_MEDIA_ROOT=str(media),
            BULKYARD_VAR_DIR=str(self.workdir / "var"),
            # As Compose runs workers: connections kept between tasks.
            DATABASE_CONN_MAX_AGE="60",
        )
        if self.broker_url:
            self.env["CELERY_BROKER_URL"] = self.broker_url
        self.env.update(self.overrides)
        self.worker = WorkerProcess(
            env=self.env,
            workdir=self.workdir,
            beat=False,
            broker_url=self.broker_url or self.redis.url,
        )
        self.beat = BeatProcess(env=self.env, workdir=self.workdir)

    # -- processes -----------------------------------------------------------

    def start(self, *, web: bool = True) -> Stack:
        self.worker.start()
        self.beat.start()
        if web:
            self.start_web()
        return self

    def start_web(self) -> None:
        port = servers.free_port()
        log = self.workdir / "web.log"
        self.web = servers.start(
            servers.uvicorn_command(port), env={**self.env, "BULKYARD_SERVER": "asgi"}, log=log
        )
        self.base_url = f"http://127.0.0.1:{port}"
        servers.wait_http(f"{self.base_url}/health/", proc=self.web, log=log)
        self.token = self.manage("create_api_user", "alice", "--token-only").strip()
        self.manage("grant_target", "alice", "contacts")

    def manage(self, *args: str) -> str:
        """A management command of this deployment; its output."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def stop(self) -> None:
        if self.web is not None:
            servers.stop(self.web)
        self.beat.stop()
        self.worker.stop()
        self.redis.kill()
        if self.pg.running:
            self.pg.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

    def pool_children(self) -> list[int]:
        """Pids of the worker's pool processes."""
        return self.worker.pool_children()

    def logs(self) -> str:
        """Every process's log, for a failing assertion's message."""
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    # -- the API -------------------------------------------------------------

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Token {self.token}"},
            timeout=timeout,
        )

    def submit_csv(
        self, content: bytes, *, kind: str = "test.echo", params: str = "{}", **fields: Any
    ) -> str:
        with self.client() as client:
            response = client.post(
                "/jobs/",
                data={"kind": kind, "params": params, **fields},
                files={"file": ("items.csv", content, "text/csv")},
            )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    # -- the database --------------------------------------------------------

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.pg.url(self.database), row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.rows("SELECT * FROM bulkyard_jobs_job WHERE id = %s", [job_id])[0]

    def ledger(self, job_id: str) -> list[int]:
        return [
            row["item_number"]
            for row in self.rows(
                f"SELECT item_number FROM {LEDGER_TABLE} WHERE job_id = %s "  # noqa: S608
                "ORDER BY item_number",
                [job_id],
            )
        ]

    def wait_job(self, job_id: str, *, timeout: float) -> dict[str, Any]:
        """The job once finished; fails with every log if it is not within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                job = self.job(job_id)
            except psycopg.OperationalError:
                job = {"status": "unreachable"}
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} not finished after {timeout} s: {job}\n{self.logs()}"
                )
            time.sleep(0.25)

    def wait_until(self, predicate: Any, *, timeout: float, message: str) -> float:
        """Seconds until ``predicate()`` held; fails with every log if it does not."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{message}: not after {timeout} s\n{self.logs()}")
            time.sleep(0.1)
        return time.monotonic() - started


def csv_items(count: int) -> bytes:
    return b"n\n" + b"".join(b"%d\n" % n for n in range(count))


def stack_fixture(pg: PrivatePostgres, workdir: Path, **options: Any) -> Iterator[Stack]:
    stack = Stack(pg=pg, workdir=workdir, **options)
    try:
        yield stack
    finally:
        stack.stop()


def contacts_csv(count: int, *, start: int = 0) -> bytes:
    """A data.import input of ``count`` contacts with known, distinct values."""
    rows = (
        f"c{n}@example.com,Name {n},{n % 100},City {n % 7},{n}.50\n"
        for n in range(start, start + count)
    )
    return b"email,name,age,city,amount\n" + "".join(rows).encode()
