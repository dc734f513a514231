"""Private PostgreSQL and Redis servers that fault tests start, stop and kill.

The shared services on 5432 and 6379 are never touched by fault tests: each
private server runs on a spare port, from a data folder of its own, and is
stopped or killed only through the process it started.

PostgreSQL refuses to run as root, so when the tests run as root the server
runs as the ``postgres`` system user (the owner of Debian's packaged
binaries); a developer running as themselves runs it as themselves.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from tests.support.servers import free_port, start

SERVER_USER = "postgres"


def _pg_bin(name: str) -> str:
    """A PostgreSQL server binary: on PATH, or in the newest Debian cluster folder."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError(f"{name} not found: install PostgreSQL's server binaries")
    return str(versions[-1] / name)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


class PrivatePostgres:
    """A PostgreSQL cluster of its own: ``initdb`` once, then start and stop
    at will. Durability is off (fsync, synchronous commit): a fast server for
    tests that stop it, not for tests of PostgreSQL's own crash recovery."""

    def __init__(self) -> None:
        # Outside pytest's root-only temporary folders: the server user must
        # reach its data folder.
        self.root = Path(tempfile.mkdtemp(prefix="bulkyard-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.root.chmod(0o755)
        subprocess.run(
            _as_server_user(
                [
                    *(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"),
                    *("--no-sync", "-E", "UTF8", "--locale", "C"),
                ]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    *(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log)),
                    *("-o", options, "-w", "-t", "60", "start"),
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session and shuts down cleanly; ``immediate``
        is as abrupt as a crash of the server."""
        subprocess.run(
            _as_server_user(
                [_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def execute(self, sql: str, *, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A Redis server of its own, without persistence, as the shared one runs:
    killing and starting it again loses every key, as a restart does."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        self.proc = start(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            env=dict(os.environ),
            log=self.workdir / f"redis-{self.starts}.log",
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"private Redis on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: the server goes away at once with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)
