"""Read-side queries of the engine."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.http import Http404

from bulkyard.jobs import selectors
from bulkyard.jobs.models import Job, JobAttachment

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
