"""Read-side queries of the engine."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.http import Http404

from bulkyard.jobs import selectors
from bulkyard.jobs.models import Job, JobAttachment, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user):
    return Job.objects.create(
        owner=user,
        kind="test.echo",
        params={"text_field": "body", "nested": {"a": [1, 2]}},
        input_format="csv",
        input_header=["id", "body"],
        chunk_size=5,
        total_items=10,
        summary={"words": 3},
    )


def test_job_get_loads_the_job_as_the_orm_does(user, job):
    found = selectors.job_get(user=user, job_id=job.pk)

    loaded = Job.objects.get(pk=job.pk)
    fields = [field.attname for field in Job._meta.concrete_fields]
    assert {name: getattr(found, name) for name in fields} == {
        name: getattr(loaded, name) for name in fields
    }
    assert found.get_deferred_fields() == set()


def test_job_get_takes_the_id_as_text(user, job):
    assert selectors.job_get(user=user, job_id=str(job.pk)).pk == job.pk


def test_job_get_of_another_users_job_is_404(other_user, job):
    with pytest.raises(Http404):
        selectors.job_get(user=other_user, job_id=job.pk)


def test_job_get_for_an_anonymous_user_is_404(job):
    with pytest.raises(Http404):
        selectors.job_get(user=AnonymousUser(), job_id=job.pk)


def test_the_root_of_a_chain_of_retries_is_its_first_job(user, job):
    retry = Job.objects.create(
        owner=user, kind="test.echo", input_format="jsonl", chunk_size=5, retry_of=job
    )
    retry_of_retry = Job.objects.create(
        owner=user, kind="test.echo", input_format="jsonl", chunk_size=5, retry_of=retry
    )

    assert selectors.job_root_id(str(retry_of_retry.pk)) == str(job.pk)
    assert selectors.job_root_id(str(job.pk)) == str(job.pk)


def test_a_jobs_attachments_are_read_in_the_order_they_were_sent(job):
    for name, content in (("b.txt", b"second"), ("a.txt", b"first")):
        JobAttachment.objects.create(
            job=job,
            name=name,
            file=ContentFile(content, name=name),
            content_type="text/plain",
            size=len(content),
            sha256="0" * 64,
        )

    files = selectors.job_attachments_read(str(job.pk))

    assert [(f.name, f.content_type, f.content) for f in files] == [
        ("b.txt", "text/plain", b"second"),
        ("a.txt", "text/plain", b"first"),
    ]


STARTED = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def test_time_paused_counts_neither_in_the_duration_nor_in_the_rate(job):
    # 100 s since the start: 30 s of an ended pause, 20 s of the current one.
    job.status, job.started_at, job.processed_items = JobStatus.PAUSED, STARTED, 5
    job.time_paused = timedelta(seconds=30)
    job.paused_at = STARTED + timedelta(seconds=80)

    progress = selectors.job_progress(job, now=STARTED + timedelta(seconds=100))

    assert (progress.duration_seconds, progress.items_per_second) == (50.0, 0.1)


def test_a_paused_job_has_no_time_left_estimate(job):
    job.status, job.started_at, job.processed_items = JobStatus.PAUSED, STARTED, 5
    job.paused_at = STARTED + timedelta(seconds=10)

    assert selectors.job_progress(job, now=STARTED + timedelta(seconds=20)).eta_seconds is None


def test_how_long_a_paused_job_has_been_paused_is_read_from_its_pause(job):
    job.status, job.paused_at = JobStatus.PAUSED, STARTED

    assert selectors.job_paused_seconds(job, now=STARTED + timedelta(seconds=90)) == 90.0


def test_a_job_that_is_not_paused_has_no_paused_seconds(job):
    assert selectors.job_paused_seconds(job) is None
