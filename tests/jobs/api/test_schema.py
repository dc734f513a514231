"""The OpenAPI description (bulkyard/jobs/api/schema.py), as served."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_documents_every_endpoint(anon_client):
    response = anon_client.get("/api/schema/?format=json", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json() if response["Content-Type"].startswith("application/json") else None
    text = response.content.decode()
    for path in (
        "/api/v1/jobs/",
        "/api/v1/jobs/{job_id}/",
        "/api/v1/jobs/{job_id}/cancel/",
        "/api/v1/jobs/{job_id}/retry/",
        "/api/v1/jobs/{job_id}/results/",
        "/api/v1/kinds/",
        "/health/",
    ):
        assert path in text
    if schema is not None:
        create = schema["paths"]["/api/v1/jobs/"]["post"]
        assert "202" in create["responses"]


def test_every_operation_has_a_response_example(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not any(
            media.get("examples")
            for response in operation["responses"].values()
            for media in response.get("content", {}).values()
        )
    ]
    assert not [m for m in missing if "/api/v1/" in m or "/health/" in m]


def test_swagger_ui_is_served_without_a_cdn(anon_client):
    response = anon_client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()


def test_format_json_serves_the_schema_as_json(anon_client):
    response = anon_client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in {
        "application/json",
        "application/vnd.oai.openapi+json",
    }
    assert response.json()["openapi"].startswith("3.")


def test_the_schema_names_the_server_that_served_it(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()

    assert schema["servers"][0]["url"] == "http://testserver"


def test_the_token_scheme_is_http_bearer(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()

    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
    }


def test_no_query_parameter_is_an_array(anon_client):
    """Postman's import writes an array parameter out twice."""
    schema = anon_client.get("/api/schema/?format=json").json()

    arrays = [
        f"{method} {path} {parameter['name']}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and parameter["schema"].get("type") == "array"
    ]
    assert arrays == []


def test_job_creation_lists_the_multipart_form_first(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()

    body = schema["paths"]["/api/v1/jobs/"]["post"]["requestBody"]["content"]
    assert next(iter(body)) == "multipart/form-data"
    assert body["multipart/form-data"]["examples"]


def test_every_api_operation_documents_auth_throttling_and_outages(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()

    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
        if not {"401", "429", "503"} <= set(operation["responses"])
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("path", "operation"), [("/api/v1/jobs/", "post"), ("/api/v1/jobs/{job_id}/retry/", "post")]
)
def test_a_202_documents_its_warnings(anon_client, path, operation):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    accepted = schema["paths"][path][operation]["responses"]["202"]["content"]["application/json"]
    name = accepted["schema"]["$ref"].rsplit("/", 1)[-1]
    warnings = schema["components"]["schemas"][name]["properties"]["warnings"]
    assert warnings["type"] == "array"
    item = schema["components"]["schemas"][warnings["items"]["$ref"].rsplit("/", 1)[-1]]
    assert set(item["properties"]) == {"code", "message"}
