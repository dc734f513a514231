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
from tests.support.jobs import may_use_contacts

ROOT = Path(__file__).resolve().parent.parent
POSTMAN = ROOT / "docs" / "postman"
COLLECTION = POSTMAN / "bulkyard.postman_collection.json"
ENVIRONMENT = POSTMAN / "bulkyard.postman_environment.json"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"
CONVERTER = POSTMAN / "node_modules" / ".bin" / "openapi2postmanv2"


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
    owner = UserFactory()
    # The dry run previews an import into the owner's contacts.
    may_use_contacts(owner)
    values = {
        "baseUrl": asgi_server,
        "token": Token.objects.create(user=owner).key,
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


def _converted_schema(anon_client, tmp_path: Path) -> dict:
    """The served schema as Postman's import (openapi-to-postmanv2) turns it
    into a collection, with its default options."""
    if not CONVERTER.exists():
        pytest.fail("openapi-to-postmanv2 is not installed: run bin/setup dev")
    schema = tmp_path / "schema.json"
    schema.write_bytes(anon_client.get("/api/schema/?format=json").content)
    converted = tmp_path / "collection.json"
    subprocess.run(
        [str(CONVERTER), "-s", str(schema), "-o", str(converted)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return json.loads(converted.read_text())


@pytest.fixture
def converted(anon_client, tmp_path, db) -> dict:
    return _converted_schema(anon_client, tmp_path)


def _converted_requests(converted: dict) -> dict[str, dict]:
    return {
        f"{request['method']} /{'/'.join(request['url']['path'])}": request
        for request in _requests(converted["item"])
    }


def test_the_converted_schema_calls_the_server_that_served_it(converted):
    assert {"key": "baseUrl", "value": "http://testserver"} in [
        {"key": variable["key"], "value": variable["value"]} for variable in converted["variable"]
    ]


def test_the_converted_schema_sends_the_token_as_a_bearer_token(converted):
    auths = {
        name: (request.get("auth") or {}).get("type")
        for name, request in _converted_requests(converted).items()
        if name.split()[1].startswith("/api/v1/")
    }

    assert set(auths.values()) == {"bearer"}, auths


def test_the_converted_job_creation_is_a_multipart_form_with_a_file(converted):
    create = _converted_requests(converted)["POST /api/v1/jobs/"]

    assert create["body"]["mode"] == "formdata"
    fields = {field["key"]: field["type"] for field in create["body"]["formdata"]}
    assert (fields["kind"], fields["params"], fields["file"]) == ("text", "text", "file")


def test_no_converted_request_repeats_a_query_parameter(converted):
    repeated = {
        name: keys
        for name, request in _converted_requests(converted).items()
        if len(keys := [q["key"] for q in request["url"].get("query", [])]) != len(set(keys))
    }

    assert repeated == {}
