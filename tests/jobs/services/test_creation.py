"""Creating jobs (bulkyard/jobs/services/creation.py), in-process on the real
database (no worker, no broker)."""

import gzip

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobPriority, JobStatus
from tests.support.engine import created_job, job_input
from tests.support.files import zip_of

pytestmark = pytest.mark.django_db


def test_a_created_job_is_queued_and_wakes_a_step_worker_once_committed(
    user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = created_job(user, b'{"n": 1}\n')

    assert job.status == JobStatus.QUEUED
    assert sent == {"steps": [0]}


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (["a.pdf", "a.pdf"], "duplicate_attachment_name"),
        (["../etc/passwd"], "invalid_attachment_name"),
        (["bad\nname.pdf"], "invalid_attachment_name"),
    ],
)
def test_attachments_with_unusable_names_are_refused(user, names, code):
    attachments = [
        services.AttachmentInput(
            file=ContentFile(b"x"), name=name, content_type="", sha256="0" * 64, size=1
        )
        for name in names
    ]

    with pytest.raises(services.InvalidJobRequest) as caught:
        services.job_create(
            owner=user,
            kind="email.send",
            params={"subject": "Hi", "text": "Hello"},
            job_input=job_input(b"email\nada@example.com\n", "csv"),
            attachments=attachments,
        )

    assert caught.value.code == code
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("content", "fmt", "kind", "stored_as", "compression"),
    [
        (b"id,text\n1,hello\n", "csv", "text.stats", ".csv", ""),
        (gzip.compress(b"id,text\n1,hello\n"), "csv", "text.stats", ".csv.gz", "gzip"),
        (b'{"id": 1, "text": "hello"}\n', "jsonl", "text.stats", ".jsonl", ""),
        (zip_of({"a.txt": b"hello"}), "zip", "text.process", ".zip", ""),
    ],
    ids=["csv", "gzip-csv", "jsonl", "zip"],
)
def test_an_input_is_stored_under_its_formats_extension(
    user, sent, content, fmt, kind, stored_as, compression
):
    job, created = services.job_create(
        owner=user, kind=kind, params={}, job_input=job_input(content, fmt)
    )

    assert created
    assert job.input_file.name.endswith(f"/{job.pk}{stored_as}")
    assert job.input_compression == compression
    assert job.input_file.storage.exists(job.input_file.name)


def _granted_high_priority(user):
    user.user_permissions.add(
        Permission.objects.get(
            codename="use_high_priority", content_type__app_label="bulkyard_jobs"
        )
    )
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached


def test_a_job_has_normal_priority_unless_asked(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    assert job.priority == JobPriority.NORMAL


def test_high_priority_is_refused_without_its_permission(user, sent):
    with pytest.raises(services.JobNotAllowed) as refused:
        services.job_create(
            owner=user,
            kind="test.echo",
            params={},
            job_input=job_input(b'{"n": 1}\n'),
            priority=JobPriority.HIGH,
        )

    assert refused.value.code == "priority_not_allowed"
    assert not Job.objects.exists()


def test_high_priority_is_accepted_with_its_permission(user, sent):
    job, _ = services.job_create(
        owner=_granted_high_priority(user),
        kind="test.echo",
        params={},
        job_input=job_input(b'{"n": 1}\n'),
        priority=JobPriority.HIGH,
    )

    assert job.priority == JobPriority.HIGH


def test_an_idempotency_key_reused_with_another_priority_is_a_mismatch(user, sent):
    def create(priority):
        return services.job_create(
            owner=user,
            kind="test.echo",
            params={},
            job_input=job_input(b'{"n": 1}\n'),
            idempotency_key="k",
            priority=priority,
        )

    create(JobPriority.NORMAL)

    with pytest.raises(services.IdempotencyKeyMismatch):
        create(JobPriority.LOW)


def test_a_job_whose_kind_is_gone_warns_of_nothing(user):
    job = created_job(user, b'{"n": 1}\n', params={"warning": "careful"})
    assert [w.code for w in services.job_submission_warnings(job=job)] == ["test_warning"]
    job.kind = "gone.kind"

    assert services.job_submission_warnings(job=job) == []
