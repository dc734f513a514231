"""The CLI against one uvicorn server (the real ASGI app) and the real worker
for the whole package, each test with a token of its own: as its users run it
(the installed ``bulkyard`` script in a subprocess, ``bulkyard``), or, where
only the behaviour matters, ``main.run`` in this process (``cli``), which
skips a Python start per call."""

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from bulkyard.cli import main
from tests.support import servers

SCRIPT = Path(sys.executable).parent / "bulkyard"
# Wide enough that no line a test reads is wrapped.
COLUMNS = "200"

Bulkyard = Callable[..., subprocess.CompletedProcess[str]]


def client_env(home: Path, **variables: str) -> dict[str, str]:
    """A user's environment: no Django settings, no config file but the
    one a test writes, nothing of the test run's."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "COLUMNS": COLUMNS,
        "LANG": "C.UTF-8",
        **variables,
    }


def run_cli(
    args: list[str], env: dict[str, str], *, stdin: bytes | None = None, timeout: float = 60
):
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="package")
def cli_server(_session_worker, worker_env, tmp_path_factory) -> Iterator[str]:
    """Like ``asgi_server``, started once for the package's tests."""
    log = tmp_path_factory.mktemp("cli-server") / "uvicorn.log"
    with servers.uvicorn_running(env=worker_env, log=log) as base:
        yield base


@pytest.fixture
def token(user) -> str:
    return Token.objects.create(user=user).key


@pytest.fixture
def bulkyard(cli_server, worker, token, tmp_path) -> Bulkyard:
    """Runs ``bulkyard ARGS…`` as the test's user against the server."""
    env = client_env(tmp_path / "home", BULKYARD_URL=cli_server, BULKYARD_TOKEN=token)

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), env, stdin=stdin)

    return run


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(cli_server, worker, token, tmp_path, monkeypatch, capsys) -> Cli:
    """Runs ``bulkyard ARGS…`` in this process (``main.run``) as the test's
    user against the server; ``env`` adds variables."""

    def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Ran:
        variables = client_env(
            tmp_path / "home", BULKYARD_URL=cli_server, BULKYARD_TOKEN=token, **(env or {})
        )
        with monkeypatch.context() as patch:
            for name, value in variables.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
            code = main.run(list(args))
        out, err = capsys.readouterr()
        return Ran(int(code), out, err)

    return run


@pytest.fixture
def items_file(tmp_path) -> Callable[[int], Path]:
    """A JSON Lines file of ``count`` items (item n is on line n)."""

    def write(count: int) -> Path:
        path = tmp_path / f"items-{count}.jsonl"
        path.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1, count + 1)))
        return path

    return write
