"""A real Celery worker (with embedded beat) run as a separate process group."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from config.celery import app as celery_app

QUEUES = "bulkyard,bulkyard.io,bulkyard.cpu"
ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, *, env: dict[str, str], workdir: Path, concurrency: int = 2) -> None:
        self.env = env
        self.workdir = workdir
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = ""
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.name = f"test-{uuid.uuid4().hex[:8]}@bulkyard"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--schedule",
                str(self.workdir / "beat-schedule"),
                "--queues",
                QUEUES,
                "--concurrency",
                str(self.concurrency),
                "--hostname",
                self.name,
                "--loglevel",
                "INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer a ping in {timeout} s; see {self.log_path}")

    def kill_hard(self) -> None:
        """SIGKILL the whole worker: main process, pool children and beat."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
