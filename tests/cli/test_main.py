"""The script itself, with no server: it runs without Django, and every
problem is one line on stderr with its own exit status."""

import subprocess
import sys

import pytest

from bulkyard.cli import main
from bulkyard.cli.client import job_id_from
from bulkyard.cli.errors import ExitCode
from tests.cli.conftest import SCRIPT, client_env, run_cli
from tests.support.servers import free_port

JOB_ID = "7f0c6a51-1c1e-4a53-9a3e-3a8f7d7d0e42"


def test_help_works_without_django_settings(tmp_path):
    done = run_cli(["--help"], client_env(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "submit" in done.stdout


def test_the_client_loads_nothing_of_the_server():
    """The import contract sees the client's own imports; this sees what
    they load in turn."""
    probe = (
        "import sys\n"
        "from bulkyard.cli import main\n"
        "main.run(['submit', '--help'])\n"
        "server = {'django', 'rest_framework', 'celery', 'channels', 'config'}\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in server))\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", probe], env=client_env(SCRIPT.parent), capture_output=True, text=True
    )

    assert done.stdout.splitlines()[-1] == "[]", done.stderr


@pytest.fixture
def user_env(tmp_path, monkeypatch):
    """A user's environment, with no configuration, for ``main.run`` here."""
    for name, value in client_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in ("BULKYARD_URL", "BULKYARD_TOKEN", "BULKYARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _nobody_listens() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_a_missing_token_says_where_to_put_one_and_exits_4(user_env, capsys):
    assert main.run(["status", JOB_ID]) == ExitCode.USAGE
    assert capsys.readouterr().err.startswith(
        "bulkyard: no API token: pass --token, set BULKYARD_TOKEN"
    )


def test_a_usage_error_exits_4_not_2(user_env, capsys):
    assert main.run(["submit", "--kind"]) == ExitCode.USAGE
    assert "Option '--kind' requires an argument." in capsys.readouterr().err


def test_a_usage_error_is_one_line_naming_the_help(user_env, tmp_path, capsys):
    missing = tmp_path / "nope.csv"

    assert main.run(["submit", str(missing), "--kind", "data.import"]) == ExitCode.USAGE
    assert capsys.readouterr().err == (
        f"bulkyard: Invalid value for '[FILE]': File '{missing}' does not exist. "
        "(see bulkyard submit -h)\n"
    )


def test_params_that_are_not_a_json_object_are_refused_before_sending(user_env, tmp_path, capsys):
    (tmp_path / "items.csv").write_text("a\n1\n")
    args = ["--url", _nobody_listens(), "--token", "t", "submit", str(tmp_path / "items.csv")]

    assert main.run([*args, "-k", "k", "-p", "[1]"]) == ExitCode.USAGE
    assert "--params must be a JSON object, not list" in capsys.readouterr().err


def test_a_server_that_is_not_there_is_one_line_and_exit_5(user_env, capsys):
    url = _nobody_listens()

    assert main.run(["status", JOB_ID, "--url", url, "--token", "t"]) == ExitCode.API
    assert (
        capsys.readouterr().err == f"bulkyard: cannot reach {url}: [Errno 111] Connection refused\n"
    )


def test_something_that_is_not_a_job_id_is_refused_before_sending(user_env, capsys):
    assert main.run(["status", "42", "--url", _nobody_listens(), "--token", "t"]) == ExitCode.USAGE
    assert "'42' is not a job id" in capsys.readouterr().err


def test_a_jobs_url_stands_for_its_id():
    url = f"https://bulkyard.example.com/api/v1/jobs/{JOB_ID.upper()}/results/?outcome=failed"

    assert job_id_from(url) == JOB_ID
