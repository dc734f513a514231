"""A job's output on object storage (bulkyard/jobs/outputs.py, decision 0028):
a redirect to a presigned URL of moto's real server, or streamed through."""

import gzip
import os
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.base import ContentFile

from bulkyard.jobs import outputs
from bulkyard.jobs.models import Job
from tests.support import s3

BODY = os.urandom(outputs.PIECE_BYTES * 2 + 123)


@pytest.fixture
def s3_storage(settings, s3_server) -> dict[str, object]:
    """The default storage on moto, under a prefix of this test's own."""
    return s3.use_for_default_storage(settings, s3_server)


def _job_with_output(owner, name: str, body: bytes) -> Job:
    job = Job.objects.create(owner=owner, kind="test.echo", input_format="jsonl", chunk_size=5)
    job.output_file.save(name, ContentFile(body))
    return job


@pytest.mark.usefixtures("s3_storage")
def test_on_s3_the_output_is_a_redirect_that_no_cache_keeps(api_client, user):
    job = _job_with_output(user, "export.csv", BODY)

    response = api_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("s3_storage")
def test_the_presigned_url_expires_after_the_configured_seconds(api_client, user, settings):
    settings.BULKYARD_S3_URL_SECONDS = 120
    job = _job_with_output(user, "export.csv", BODY)

    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    assert parse_qs(urlsplit(location).query).get("X-Amz-Expires") == ["120"], location


@pytest.mark.usefixtures("s3_storage")
def test_the_presigned_url_downloads_the_bytes_with_the_name_and_type(api_client, user):
    job = _job_with_output(user, "export.csv", BODY)
    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    fetched = httpx.get(location)

    assert fetched.status_code == 200, fetched.text
    assert fetched.content == BODY
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="export.csv"'
    assert fetched.headers["Content-Type"].startswith("text/csv")


@pytest.mark.usefixtures("s3_storage")
def test_a_gzip_output_is_fetched_as_gzip_not_unpacked(api_client, user):
    job = _job_with_output(user, "export.csv.gz", gzip.compress(b"a,b\n"))
    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    fetched = httpx.get(location)

    assert fetched.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in fetched.headers
    assert gzip.decompress(fetched.content) == b"a,b\n"


@pytest.mark.usefixtures("s3_storage")
def test_a_name_beyond_ascii_keeps_its_name_on_the_store(api_client, user):
    job = _job_with_output(user, "Übersicht.csv", b"a\n")
    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    fetched = httpx.get(location)

    assert fetched.headers["Content-Disposition"] == (
        "attachment; filename*=utf-8''%C3%9Cbersicht.csv"
    )


@pytest.mark.usefixtures("s3_storage")
def test_another_users_output_is_not_found_and_never_redirected(other_client, user):
    job = _job_with_output(user, "export.csv", BODY)

    response = other_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response.status_code == 404
    assert "Location" not in response


@pytest.mark.usefixtures("s3_storage")
def test_anonymous_requests_are_refused_before_any_redirect(anon_client, user):
    job = _job_with_output(user, "export.csv", BODY)

    response = anon_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response.status_code in (401, 403)
    assert "Location" not in response


def test_links_are_signed_for_the_public_endpoint(api_client, user, settings, s3_server):
    options = s3.use_for_default_storage(
        settings, s3_server, public_endpoint_url="https://files.example.com"
    )
    job = _job_with_output(user, "export.csv", b"a\n")

    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    assert location.startswith(f"https://files.example.com/{s3.BUCKET}/{options['location']}/")


def test_a_link_signed_for_the_public_endpoint_is_valid_there(
    api_client, user, settings, s3_server
):
    # Workers write through one address, browsers fetch through another: moto
    # on 127.0.0.1 and on localhost stands in for http://minio:9000 and
    # https://files.example.com.
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    s3.use_for_default_storage(settings, s3_server, public_endpoint_url=public)
    job = _job_with_output(user, "export.csv", b"a\n")
    location = api_client.get(f"/api/v1/jobs/{job.pk}/output/")["Location"]

    fetched = httpx.get(location)

    assert urlsplit(location).hostname == "localhost"
    assert fetched.content == b"a\n"


@pytest.mark.usefixtures("s3_storage")
def test_in_stream_mode_an_s3_output_is_streamed_through_the_app(api_client, user, settings):
    settings.BULKYARD_S3_DOWNLOADS = "stream"
    job = _job_with_output(user, "export.csv", BODY)

    response = api_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == BODY
    assert response["Content-Length"] == str(len(BODY))
    assert response["Content-Disposition"] == 'attachment; filename="export.csv"'
