"""``bulkyard output`` when the server keeps files on S3 (moto's real server):
the CLI follows the redirect to the presigned URL, without its token."""

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from django.core.files.base import ContentFile
from rest_framework.authtoken.models import Token

from bulkyard.cli.client import ApiClient
from bulkyard.jobs.models import Job
from tests.support import s3, servers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def s3_prefix() -> str:
    return f"t/{uuid.uuid4().hex}"


@pytest.fixture
def s3_api(s3_server, worker_env, s3_prefix, tmp_path) -> Iterator[str]:
    """The ASGI app with its files on moto, under ``s3_prefix``."""
    env = {**worker_env, **s3_server.settings(s3_prefix)}
    with servers.uvicorn_running(env=env, log=tmp_path / "uvicorn.log") as base:
        yield base


@pytest.fixture
def job_on_s3(settings, s3_server, s3_prefix, user) -> Job:
    s3.use_for_default_storage(settings, s3_server, location=s3_prefix)
    job = Job.objects.create(owner=user, kind="test.echo", input_format="jsonl", chunk_size=5)
    job.output_file.save("export.csv", ContentFile(b"id,name\n1,Ann\n"))
    return job


def _recording(client: ApiClient) -> list[httpx.Request]:
    sent: list[httpx.Request] = []
    client._http.event_hooks["request"].append(sent.append)
    return sent


def test_the_output_is_fetched_from_the_store_by_the_redirect(s3_api, s3_server, job_on_s3, user):
    token = Token.objects.create(user=user).key
    with ApiClient(url=s3_api, token=token) as client:
        sent = _recording(client)
        with client.download(str(job_on_s3.pk), "output") as download:
            body = b"".join(download.pieces)

    assert body == b"id,name\n1,Ann\n"
    assert download.name == "export.csv"
    api_request, store_request = sent
    assert api_request.url.port == urlsplit(s3_api).port
    assert str(store_request.url).startswith(f"{s3_server.endpoint_url}/{s3.BUCKET}/")


def test_the_token_goes_to_the_api_and_never_to_the_store(s3_api, job_on_s3, user):
    token = Token.objects.create(user=user).key
    with ApiClient(url=s3_api, token=token) as client:
        sent = _recording(client)
        with client.download(str(job_on_s3.pk), "output") as download:
            b"".join(download.pieces)

    api_request, store_request = sent
    assert api_request.headers["Authorization"] == f"Token {token}"
    assert "Authorization" not in store_request.headers
