"""Bulkyard spread over hosts that share no disk, on one machine.

The web process and two workers each run as on a host of their own: each has
its own ``DJANGO_MEDIA_ROOT`` and ``BULKYARD_VAR_DIR`` (folders nobody else
reads), and what they share is what separate machines would share: the
database, the broker and the storage settings (an S3 bucket). The servers are
the tests' own (``tests/support/stack.py``): a database of their own on a
private PostgreSQL and a private Redis, so that no other worker of the test
run, which claims from the test run's database and listens on its broker,
takes these jobs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkyard.jobs.dispatch import RUN_NEXT_CHUNK
from tests.support import s3, servers
from tests.support.stack import Stack
from tests.support.worker import ROOT, WorkerProcess

WEB, FIRST, SECOND = "web", "worker-a", "worker-b"


@dataclass
class HostsStack(Stack):
    """A ``Stack`` whose web process and two workers each run on a host of
    their own. The first worker embeds beat (the retention and sweeper
    schedules run once, as in a deployment with one beat); the second does
    not. ``env`` is the web host's."""

    hosts: dict[str, dict[str, str]] = field(init=False)
    second_worker: WorkerProcess = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        # What an operator sets on every host of such a deployment: with local
        # storage, the hosts refuse to start unless told the folder is shared.
        # One JSON object a line, as docs/observability.md advises for
        # deployments: the workers' logs say which chunks each one ran.
        shared = {"BULKYARD_MULTI_HOST": "true", "LOG_FORMAT": "json", **self.env}
        self.hosts = {name: self._host_env(shared, name) for name in (WEB, FIRST, SECOND)}
        self.env = self.hosts[WEB]
        self.worker = self._worker(FIRST, beat=True)
        self.second_worker = self._worker(SECOND, beat=False)

    def _host_env(self, shared: dict[str, str], name: str) -> dict[str, str]:
        root = self.workdir / name
        (root / "media").mkdir(parents=True)
        return {
            **shared,
            "DJANGO_MEDIA_ROOT": str(root / "media"),
            "BULKYARD_VAR_DIR": str(root / "var"),
        }

    def _worker(self, name: str, *, beat: bool) -> WorkerProcess:
        return WorkerProcess(
            env=self.hosts[name],
            workdir=self.workdir / name,
            beat=beat,
            broker_url=self.broker_url or self.redis.url,
        )

    def start(self, *, web: bool = True) -> HostsStack:
        self.worker.start()
        self.second_worker.start()
        if web:
            self.start_web()
        return self

    def stop(self) -> None:
        self.second_worker.stop()
        super().stop()

    def run_to_exit(self, host: str, timeout: float = 30) -> tuple[int, str]:
        """Start ``host``'s process (the web server, or its worker) for a setup
        it must refuse, and wait for it to end: its exit status and output.
        Fails if it is still running after ``timeout``."""
        env = self.hosts[host]
        if host == WEB:
            command, env = (
                servers.uvicorn_command(servers.free_port()),
                {**env, "BULKYARD_SERVER": "asgi"},
            )
        else:
            worker = self.worker if host == FIRST else self.second_worker
            worker.name = f"refused-{host}@bulkyard"
            command = worker.command()
        log = self.workdir / host / "refused.log"
        proc = servers.start(command, env=env, log=log)
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            servers.stop(proc)
            raise AssertionError(f"{host} is running: {log.read_text()[-3000:]}") from None
        return status, log.read_text(errors="replace")

    def media_root(self, host: str) -> Path:
        return Path(self.hosts[host]["DJANGO_MEDIA_ROOT"])

    def manage_on(self, host: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A management command run on ``host``, whatever its exit status."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.hosts[host],
            capture_output=True,
            text=True,
            check=False,
        )

    def chunks_run_by(self, worker: WorkerProcess, job_id: str) -> list[int]:
        """Ids of the chunks of ``job_id`` that ``worker`` ran to their commit,
        from its log: Celery's line about a run_next_chunk task that returned
        'done' carries the chunk's job_id and chunk_id (docs/observability.md)."""
        found = []
        for line in worker.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # Celery's banner and warnings are not log records
            if (
                isinstance(record, dict)
                and record.get("task") == RUN_NEXT_CHUNK
                and record.get("job_id") == job_id
                and str(record.get("event", "")).endswith("'done'")
                and record.get("logger") == "celery.app.trace"
            ):
                found.append(int(record["chunk_id"]))
        return found

    def logs(self) -> str:
        parts = []
        for path in sorted(self.workdir.rglob("*.log")):
            relative = path.relative_to(self.workdir)
            parts.append(f"--- {relative}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def bucket_keys(server: s3.S3Server, prefix: str) -> list[str]:
    """Every object's key under ``prefix`` in the test bucket."""
    client: Any = server.client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=s3.BUCKET, Prefix=prefix.rstrip("/") + "/"
    ):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys
