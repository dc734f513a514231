"""A real Celery worker (with embedded beat, unless told otherwise) and a
Celery beat, each run as a separate process group."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from celery import Celery

from config.celery import app as celery_app
from tests.support import servers

QUEUES = "bulkyard,bulkyard.io,bulkyard.cpu"
ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(
        self,
        *,
        env: dict[str, str],
        workdir: Path,
        concurrency: int = 2,
        beat: bool = True,
        broker_url: str | None = None,
    ) -> None:
        self.env = env
        self.workdir = workdir
        self.concurrency = concurrency
        self.beat = beat
        # Pings go through the worker's own broker when it is not this test
        # run's (a private Redis, RabbitMQ).
        self.control = (
            Celery(broker=broker_url, set_as_current=False).control
            if broker_url
            else celery_app.control
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = ""
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def command(self) -> list[str]:
        """The worker's command line, as a host would run it."""
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *(["--beat", "--schedule", str(self.workdir / "beat-schedule")] if self.beat else []),
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
        ]

    def start(self) -> None:
        self.starts += 1
        self.name = f"test-{uuid.uuid4().hex[:8]}@bulkyard"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(),
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
            if self.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer a ping in {timeout} s; see {self.log_path}")

    def pool_children(self) -> list[int]:
        """Pids of the pool processes (whichever of the main process's threads
        forked them: billiard replaces lost ones from a thread of its own)."""
        assert self.proc is not None
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return sorted(
            int(child)
            for task in tasks.iterdir()
            for child in (task / "children").read_text().split()
        )

    def kill_hard(self) -> None:
        """SIGKILL the whole worker: main process, pool children and beat."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop_warm(self, timeout: float = 120) -> None:
        """SIGTERM to the main process only, as ``docker stop`` or systemd
        send it: Celery's warm shutdown lets running tasks finish."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None:
            servers.stop(self.proc)


class BeatProcess:
    """Celery beat on its own, so that a test can stop it for a while."""

    def __init__(self, *, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.proc = servers.start(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"),
                *("--schedule", str(self.workdir / "beat-schedule")),
            ],
            env=self.env,
            log=self.workdir / f"beat-{self.starts}.log",
        )

    def stop(self) -> None:
        if self.proc is not None:
            servers.stop(self.proc)
