"""The README's tutorial, run as a new user would: its one marked block, pasted
into bash at the root of a fresh clone, on the embedded defaults (SQLite, the
file broker) and ports of its own.

The clone is of the checkout's HEAD: commit before running this test. It
borrows the checkout's .venv (a symlink; bin/setup sees the install is current)
so that no minute goes to installing, and PYTHONPATH makes every process import
the clone's code rather than the checkout's (the editable install points there).
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import servers

pytestmark = pytest.mark.integration

README = servers.ROOT / "README.md"
# The HTML comment that marks the block, then the block itself.
BLOCK = re.compile(r"<!-- tutorial\b[^>]*-->\s*```bash\n(.*?)^```", re.S | re.M)
# Under pytest-timeout's 300 s, so that the cleanup below still runs.
TIMEOUT_SECONDS = 240


def tutorial_block() -> str:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"expected one marked tutorial block in README.md, found {len(blocks)}"
    return str(blocks[0])


def _fresh_clone(target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(servers.ROOT), str(target)], check=True)
    venv = Path(sys.prefix)
    digest = hashlib.sha256((target / "pyproject.toml").read_bytes()).hexdigest()[:16]
    # Without a current install bin/setup would reinstall into the shared
    # .venv, pointing the checkout's editable install at this temporary clone.
    assert list(venv.glob(f".installed-{digest}-*")), "run bin/setup dev first"
    (target / ".venv").symlink_to(venv)
    return target


def _user_env(clone: Path, home: Path) -> dict[str, str]:
    """A shell like a new user's: none of the test run's services or settings."""
    kept = {"PATH", "LANG", "LC_ALL", "TMPDIR", "PYTHON"}
    env = {key: value for key, value in os.environ.items() if key in kept}
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHONPATH": str(clone),
        "BULKYARD_PORT": str(servers.free_port()),
        "PAGES_PORT": str(servers.free_port()),
        "COLUMNS": "200",  # the CLI's summaries unwrapped
    }


def _stop_group(pgid: int) -> None:
    """Everything the block started (bin/run's processes, the page server)
    is in the session's process group."""
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def test_the_readme_tutorial_runs_in_a_fresh_clone_and_its_retry_succeeds(tmp_path):
    clone = _fresh_clone(tmp_path / "clone")
    log = tmp_path / "tutorial.log"
    with log.open("wb") as out:
        shell = subprocess.Popen(
            ["bash", "-c", tutorial_block()],
            cwd=clone,
            env=_user_env(clone, tmp_path / "home"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            status = shell.wait(timeout=TIMEOUT_SECONDS)
        finally:
            _stop_group(shell.pid)
            shell.wait()
    output = log.read_text(errors="replace")
    server_log = clone / "bulkyard.log"
    context = f"{output[-4000:]}\n--- bulkyard.log ---\n{server_log.read_text()[-3000:]}"

    assert status == 0, context
    assert '"status":"ok"' in output or '"status":"degraded"' in output, context
    assert re.search(r"\(text\.stats\) completed_with_errors", output), context
    first = re.search(r"job (\S+) \(http\.request\) completed_with_errors", output)
    assert first, context
    # The failed row: item 4 (news.html), its 404 body spanning lines.
    # No other result row may start inside the match (re.S alone would let
    # it run on to a later row's news.html).
    row_four = r"^4,failed,http_404,(?:(?!^\d+,)[\s\S])*?,news\.html$"
    assert re.search(row_four, output, re.M), context
    retried = re.search(r"job (\S+) \(http\.request\) succeeded\n\s*items\s+1: 1 succeeded", output)
    assert retried, context
    assert retried.group(1) != first.group(1)
