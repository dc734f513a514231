"""Schemathesis generates requests from the OpenAPI schema (valid and invalid
ones, every endpoint) against the running ASGI server: none may end in a 5xx,
and every response must match what the schema documents."""

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server_env(server_env):
    # Hundreds of requests a minute: throttling would hide the endpoints.
    rates = {"API_THROTTLE_USER", "API_THROTTLE_ANON", "API_THROTTLE_JOB_CREATE"}
    return server_env | dict.fromkeys(rates, "100000/min")


def test_no_generated_request_gets_a_server_error(asgi_server, tmp_path):
    token = Token.objects.create(user=UserFactory()).key
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{asgi_server}/api/schema/",
            "--header",
            f"Authorization: Token {token}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261125",
            "--no-color",
            # Binary download; its examples are covered by the API tests.
            "--exclude-path",
            "/api/v1/jobs/{job_id}/output/",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
