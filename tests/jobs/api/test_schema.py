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
