"""A job's output file as a download (bulkyard/jobs/outputs.py), from the local
folder or S3."""

import gzip
import os

import pytest
from django.core.files.base import ContentFile
from django.test import AsyncClient
from rest_framework.authtoken.models import Token

from bulkyard.jobs import outputs
from bulkyard.jobs.models import Job

# More than one piece, and not a whole number of them.
BODY = os.urandom(outputs.PIECE_BYTES * 2 + 123)


def _job_with_output(owner, name: str, body: bytes) -> Job:
    job = Job.objects.create(owner=owner, kind="test.echo", input_format="jsonl", chunk_size=5)
    job.output_file.save(name, ContentFile(body))
    return job


def test_the_output_streams_whole_with_its_name_and_length(api_client, user, any_storage, settings):
    # On S3 the default is a redirect (tests/jobs/test_outputs_s3.py); streamed
    # here, the bytes come through the storage's own reader on both backends.
    settings.BULKYARD_S3_DOWNLOADS = "stream"
    job = _job_with_output(user, "export.csv", BODY)

    response = api_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == BODY
    assert response["Content-Length"] == str(len(BODY))
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert "export" in response["Content-Disposition"]
    assert response["Content-Type"].startswith("text/csv")


def test_a_gzip_output_is_sent_as_gzip_not_as_its_content(api_client, user):
    job = _job_with_output(user, "export.csv.gz", gzip.compress(b"a,b\n"))

    response = api_client.get(f"/api/v1/jobs/{job.pk}/output/")

    assert response["Content-Type"] == "application/gzip"
    assert gzip.decompress(b"".join(response.streaming_content)) == b"a,b\n"


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_output_is_streamed_not_read_whole_first(user):
    # A sync iterator would make Django read the file into memory before
    # sending a byte (StreamingHttpResponse.__aiter__); an async one is not.
    from asgiref.sync import sync_to_async

    job = await sync_to_async(_job_with_output)(user, "export.csv", BODY)
    token = await Token.objects.acreate(user=user)
    response = await AsyncClient().get(
        f"/api/v1/jobs/{job.pk}/output/", headers={"Authorization": f"Token {token.key}"}
    )

    assert response.status_code == 200, response.content
    assert response.is_async
    assert b"".join([piece async for piece in response.streaming_content]) == BODY
