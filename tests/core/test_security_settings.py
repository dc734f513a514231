"""HTTPS settings (config/settings/security.py): the production environment
docs/security.md documents passes Django's deployment checks, and the HTTPS
redirect spares health probes."""

import re
import secrets
import subprocess
import sys

import pytest

from tests.support.servers import ROOT
from tests.support.stack import production_env


def _documented_production_environment() -> dict[str, str]:
    """The NAME=value lines of the block under "HTTPS and `check --deploy`"."""
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("## HTTPS and `check --deploy`", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block, "docs/security.md documents no production environment"
    return dict(line.split("=", 1) for line in block.group(1).splitlines() if "=" in line)


def test_the_documented_production_environment_passes_check_deploy(tmp_path):
    documented = _documented_production_environment()
    assert documented["DJANGO_DEBUG"] == "false"
    env = production_env(
        BULKYARD_ENV_FILE=str(tmp_path / "no.env"),
        BULKYARD_VAR_DIR=str(tmp_path / "var"),
        **{**documented, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)},
    )

    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db
def test_the_https_redirect_sends_plain_http_requests_to_https(https_redirect, client):
    response = client.get("/api/v1/kinds/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/kinds/"


@pytest.mark.django_db
def test_the_https_redirect_leaves_health_probes_alone(https_redirect, client):
    response = client.get("/health/")

    assert response.status_code != 301
