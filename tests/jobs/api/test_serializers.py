"""The job's representation: written out for speed, it must say exactly what
DRF's generic ModelSerializer path says (values, types, key order)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.reverse import reverse
from rest_framework.test import APIRequestFactory

from bulkyard.jobs.api.serializers import JobSerializer
from bulkyard.jobs.models import CallbackDelivery, CallbackStatus, Job, JobStatus

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)


def _queued(owner) -> Job:
    return Job.objects.create(owner=owner, kind="test.echo", input_format="jsonl", chunk_size=5)


def _finished_with_everything(owner) -> Job:
    """Every optional field set: counts (one item never ran), times, an error,
    a summary, an input and an output file, an idempotency key, the job it
    retries, params with a secret and a callback being retried."""
    first = _queued(owner)
    job = Job(
        owner=owner,
        kind="test.echo",
        params={"api_token": "s3cret", "nested": [{"password": "x", "keep": "é"}], "n": 1},
        status=JobStatus.CANCELLED,
        input_file="jobs/1/inputs/retry-of-x.jsonl",
        input_format="retry",
        input_name="retry-of-x.jsonl",
        input_size=912,
        chunk_size=5,
        total_items=10,
        processed_items=9,
        succeeded_items=7,
        failed_items=2,
        chunks_total=2,
        chunks_finished=2,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=5, microseconds=123),
        cancel_requested_at=STARTED + timedelta(seconds=1),
        error_code="partial",
        error_message="three items failed",
        summary={"words": 12, "top": ["a", "b"]},
        idempotency_key="key-1",
        retry_of=first,
    )
    job.output_file.save("out.zip", ContentFile(b"zip"), save=False)
    job.save()
    CallbackDelivery.objects.create(
        job=job,
        url="https://hooks.example.com/done?token=t0ken",
        secret="whsec_" + "A" * 44,
        status=CallbackStatus.PENDING,
        attempts=1,
        last_attempt_at=STARTED + timedelta(seconds=6),
        last_status_code=503,
        last_error="the receiver answered 503 Service Unavailable",
    )
    return Job.objects.get(pk=job.pk)


def _generic(job: Job, context: dict) -> dict:
    """What DRF's ModelSerializer builds from the declared and model fields."""
    serializer = JobSerializer(job, context=context)
    return serializers.ModelSerializer.to_representation(serializer, job)


def _request() -> Request:
    return Request(APIRequestFactory().get("/api/v1/jobs/", HTTP_HOST="127.0.0.1:8000"))


@pytest.mark.parametrize("make", [_queued, _finished_with_everything])
def test_the_representation_is_drfs_generic_one(make, user):
    job = make(user)
    context = {"request": _request()}

    data = JobSerializer(job, context=context).data

    expected = _generic(job, context)
    assert list(data) == list(expected)
    assert data == expected
    assert [type(value) for value in data.values()] == [type(v) for v in expected.values()]
    assert JSONRenderer().render(data) == JSONRenderer().render(expected)


def test_the_representation_without_a_request_is_drfs_generic_one(user):
    # As the WebSocket streams use it: relative URLs, no websocket link.
    job = _finished_with_everything(user)

    assert JobSerializer(job).data == _generic(job, {})


def test_a_running_jobs_representation_is_drfs_generic_one_but_for_the_clock(user):
    job = Job.objects.create(
        owner=user,
        kind="test.echo",
        status=JobStatus.RUNNING,
        input_format="jsonl",
        chunk_size=5,
        total_items=100,
        processed_items=40,
        started_at=STARTED,
    )
    context = {"request": _request()}

    data = JobSerializer(job, context=context).data
    expected = _generic(job, context)

    # Throughput and ETA depend on the time of the read, which differs by microseconds.
    assert {**data, "progress": None} == {**expected, "progress": None}
    assert data["progress"]["percent"] == expected["progress"]["percent"] == 40.0


def test_a_paused_jobs_representation_is_drfs_generic_one_but_for_the_clock(user):
    job = Job.objects.create(
        owner=user,
        kind="test.echo",
        status=JobStatus.PAUSED,
        input_format="jsonl",
        chunk_size=5,
        total_items=100,
        processed_items=40,
        started_at=STARTED,
        paused_at=STARTED + timedelta(seconds=3),
        time_paused=timedelta(seconds=1),
    )
    context = {"request": _request()}

    data = JobSerializer(job, context=context).data
    expected = _generic(job, context)

    clock = {"progress": None, "paused_seconds": None}
    assert {**data, **clock} == {**expected, **clock}
    assert list(data) == list(expected)
    assert data["paused_at"] == "2026-11-25T10:00:03.250000Z"


def test_the_status_read_answers_drfs_generic_body(api_client, user):
    job = _finished_with_everything(user)

    response = api_client.get(f"/api/v1/jobs/{job.pk}/")

    expected = _generic(job, {"request": Request(response.wsgi_request)})
    assert response.content == JSONRenderer().render(expected)
    assert response.json()["params"]["api_token"] == "••••••"


def test_the_links_are_the_routes_urls(user):
    # The links are built from the detail URL; each must be its route's URL.
    job = _finished_with_everything(user)
    request = _request()

    links = JobSerializer(job, context={"request": request}).data["links"]

    def url(name: str) -> str:
        return reverse(f"jobs:{name}", kwargs={"job_id": job.pk}, request=request)

    assert links == {
        "self": url("job-detail"),
        "status": url("job-detail"),
        "websocket": f"ws://127.0.0.1:8000/ws/jobs/{job.pk}/",
        "results": url("job-results"),
        "failed_results": url("job-results") + "?outcome=failed",
        "succeeded_results": url("job-results") + "?outcome=succeeded",
        "unprocessed": url("job-results") + "?outcome=unprocessed",
        "output": url("job-output"),
        "cancel": url("job-cancel"),
        "pause": url("job-pause"),
        "resume": url("job-resume"),
        "retry": url("job-retry"),
    }
