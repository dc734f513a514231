"""The Postman collection (docs/postman/) run by newman against the live
server and a real worker: every request's assertions must pass, and the
collection must hold a request for every API route."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import redis
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
POSTMAN = ROOT / "docs" / "postman"
COLLECTION = POSTMAN / "bulkyard.postman_collection.json"
ENVIRONMENT = POSTMAN / "bulkyard.postman_environment.json"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"


def _requests(items: list[dict]) -> list[dict]:
    found = []
    for item in items:
        found += _requests(item["item"]) if "item" in item else [item["request"]]
    return found


def _api_routes(patterns: list, prefix: str = "") -> list[str]:
    """Every route of the URLconf under /api/ and /health/, as a pattern."""
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith(("api/v1/", "health/")):
            routes.append(route)
    return routes


def _matches(route: str, path: str) -> bool:
    # <uuid:job_id> and the like: one segment, here a {{variable}} or a value.
    regex = re.sub(r"<[^>]+>", "[^/]+", re.escape(route).replace(r"\<", "<").replace(r"\>", ">"))
    return re.fullmatch(regex, path) is not None


def test_the_collection_has_a_request_for_every_api_route():
    paths = [
        "/".join(request["url"]["path"])
        for request in _requests(json.loads(COLLECTION.read_text())["item"])
    ]

    routes = _api_routes(get_resolver().url_patterns)

    assert routes
    assert [route for route in routes if not any(_matches(route, p) for p in paths)] == []


@pytest.fixture
def _fresh_throttles(settings) -> None:
    """The test database starts its user ids anew on each run, so an earlier
    run's spent budget would throttle this run's users: this checkout's cache
    keys go (its own keys only; the database is shared)."""
    cache = settings.CACHES["default"]
    if "LOCATION" not in cache:
        return
    server = redis.Redis.from_url(cache["LOCATION"])
    for key in server.scan_iter(f"{cache['KEY_PREFIX']}:*"):
        server.delete(key)


@pytest.fixture
def server_env(server_env):
    # Low enough that the 429 request gets there in a few dozen attempts, and
    # above the jobs the collection creates before it.
    return server_env | {"API_THROTTLE_JOB_CREATE": "20/min"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_fresh_throttles")
def test_the_collection_passes_against_the_live_server(asgi_server, tmp_path):
    if not NEWMAN.exists():
        pytest.fail("newman is not installed: run bin/setup dev (npm ci in docs/postman)")
    environment = json.loads(ENVIRONMENT.read_text())
    values = {
        "baseUrl": asgi_server,
        "token": Token.objects.create(user=UserFactory()).key,
        "otherToken": Token.objects.create(user=UserFactory()).key,
        "pollMillis": "200",
        "maxPolls": "300",
    }
    environment["values"] = [
        {**value, "value": values.get(value["key"], value["value"])}
        for value in environment["values"]
    ]
    (tmp_path / "environment.json").write_text(json.dumps(environment))
    report = tmp_path / "report.json"

    result = subprocess.run(
        [
            str(NEWMAN),
            "run",
            str(COLLECTION),
            "--environment",
            str(tmp_path / "environment.json"),
            "--working-dir",
            str(ROOT),
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--color",
            "off",
            "--disable-unicode",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )

    # The whole run is kept beside the report; the assertion shows its end.
    (tmp_path / "newman.txt").write_text(result.stdout + result.stderr)
    output = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    run = json.loads(report.read_text())["run"]
    assert run["failures"] == [], output
    assertions = run["stats"]["assertions"]
    requests = len(_requests(json.loads(COLLECTION.read_text())["item"]))
    # Every request ran and asserted something (a request that polls asserts
    # only on its last run).
    asserted = {
        execution["item"]["name"] for execution in run["executions"] if execution.get("assertions")
    }
    assert len(asserted) == requests, output
    assert assertions["failed"] == 0
    assert assertions["total"] >= 2 * requests
