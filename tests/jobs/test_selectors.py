"""Read-side queries of the engine."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.http import Http404

from bulkyard.jobs import selectors, services
from bulkyard.jobs.models import Chunk, ChunkStatus, Job, JobAttachment, JobStatus
from bulkyard.jobs.services import finishing, planning
from tests.support.engine import created_job, run_every_chunk

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


def _stopped(job: Job, *, processed: int, ranges) -> Job:
    """``job`` cancelled with one chunk of 5 items stopped after ``processed``."""
    Chunk.objects.create(
        job=job,
        sequence=0,
        byte_start=8,
        byte_end=60,
        start_line=2,
        first_item_number=2,
        item_count=5,
        status=ChunkStatus.CANCELLED,
        processed_items=processed,
        processed_ranges=ranges,
    )
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.CANCELLED,
        input_file="jobs/x.csv",
        chunks_total=1,
        processed_items=processed,
    )
    return Job.objects.get(pk=job.pk)


def test_a_stopped_chunk_leaves_the_items_outside_the_ranges_it_processed(job):
    stopped = _stopped(job, processed=3, ranges=[[2, 3], [5, 5]])

    (remainder,) = selectors.job_unprocessed(job=stopped)

    assert [n for n in range(2, 7) if remainder.takes(n)] == [4, 6]


def test_a_chunk_stopped_without_a_record_of_its_items_makes_them_unknown(job):
    stopped = _stopped(job, processed=3, ranges=None)

    with pytest.raises(selectors.UnprocessedUnavailable) as refused:
        selectors.job_unprocessed(job=stopped)
    assert refused.value.code == "unprocessed_unknown"


def test_a_chunk_that_counted_items_it_did_not_name_makes_them_unknown(job):
    stopped = _stopped(job, processed=3, ranges=[[2, 3]])

    with pytest.raises(selectors.UnprocessedUnavailable) as refused:
        selectors.job_unprocessed(job=stopped)
    assert refused.value.code == "unprocessed_unknown"


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING])
def test_the_items_of_an_active_job_that_never_ran_are_not_known_yet(job, status):
    Job.objects.filter(pk=job.pk).update(status=status, input_file="jobs/x.csv")

    with pytest.raises(selectors.UnprocessedUnavailable) as refused:
        selectors.job_unprocessed(job=Job.objects.get(pk=job.pk))
    assert refused.value.code == "job_not_finished"


def test_a_job_without_input_has_no_items_to_give_back(job):
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, input_format="none")

    with pytest.raises(selectors.UnprocessedUnavailable) as refused:
        selectors.job_unprocessed(job=Job.objects.get(pk=job.pk))
    assert refused.value.code == "no_input"


@pytest.mark.parametrize(
    ("status", "total", "processed", "count"),
    [
        (JobStatus.RUNNING, 10, 4, None),
        (JobStatus.CANCELLED, 10, 4, 6),
        (JobStatus.CANCELLED, None, 0, None),
        (JobStatus.COMPLETED_WITH_ERRORS, 10, 10, 0),
    ],
)
def test_the_unprocessed_count_is_known_once_the_job_has_finished(
    job, status, total, processed, count
):
    job.status, job.total_items, job.processed_items = status, total, processed

    assert selectors.job_unprocessed_count(job) == count


def _finished(user, body: bytes, **params) -> Job:
    job = created_job(user, body, fmt="csv", params=params)
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    return Job.objects.get(pk=job.pk)


# Line 3 has a field too many: the reader fails it (wrong_field_count).
_MIXED = b"id,text\n1,a\n2,b,extra\n3,c\n4,d\n"


def test_failures_are_counted_by_code_the_commonest_first(user):
    job = _finished(user, _MIXED, fail_items=[4, 5])

    assert list(selectors.job_failure_counts(job=job).items()) == [
        ("requested_failure", 2),
        ("wrong_field_count", 1),
    ]


def test_a_retry_leaves_out_the_readers_codes_and_the_kinds():
    assert selectors.not_retried_codes(kind="webhook.send") >= {
        "wrong_field_count",
        "outcome_unknown",
    }
    assert "outcome_unknown" not in selectors.not_retried_codes(kind="test.echo")


def test_a_retry_takes_the_failures_not_left_out_in_item_order(user):
    job = _finished(user, _MIXED, fail_items=[5, 4])

    numbers = selectors.job_retryable_failures(job=job).values_list("item_number", flat=True)

    assert list(numbers) == [4, 5]


def test_a_job_whose_failures_are_all_left_out_cannot_be_retried(user):
    assert not selectors.job_can_retry(job=_finished(user, _MIXED))


def test_a_job_still_running_cannot_be_retried(user):
    job = _finished(user, _MIXED, fail_items=[4])
    job.status = JobStatus.RUNNING

    assert not selectors.job_can_retry(job=job)


def test_a_job_of_a_kind_no_longer_installed_cannot_be_retried(user):
    job = _finished(user, _MIXED, fail_items=[4])
    job.kind = "gone.kind"

    assert not selectors.job_can_retry(job=job)


def test_the_retries_of_a_job_leave_out_expired_ones(user):
    job = _finished(user, _MIXED, fail_items=[4])
    kept, _ = services.job_retry_failed(job=job, owner=user)
    expired, _ = services.job_retry_failed(job=job, owner=user, idempotency_key="second")
    Job.objects.filter(pk=expired.pk).update(expires_at=datetime(2020, 1, 1, tzinfo=UTC))

    assert list(selectors.job_retries(job=job)) == [kept]


def test_kinds_described_give_schema_example_and_what_each_kind_reads(user):
    from tests.support.jobs import may_use_contacts

    may_use_contacts(user)

    kinds = {kind["name"]: kind for kind in selectors.kinds_described(user=user)}

    image, imports = kinds["image.process"], kinds["data.import"]
    assert image["accepts_zip"] is True
    assert image["accepts_gzip"] is True
    assert imports["accepts_zip"] is False
    assert imports["offers_preview"] is True
    assert imports["params_schema"]["properties"]["mode"]["default"] == "upsert"
    assert imports["columns_param"] == "target"
    columns = {column["name"]: column for column in imports["input_columns"]["contacts"]}
    assert columns["email"]["required"] is True


def test_kinds_described_list_only_the_targets_the_user_may_import_into(user):
    kinds = {kind["name"]: kind for kind in selectors.kinds_described(user=user)}

    assert kinds["data.import"]["input_columns"] == {}


def test_every_kind_has_example_params_that_are_valid():
    from bulkyard.jobs import registry

    for kind in registry.all_kinds():
        if kind.name.startswith("test."):
            continue  # the tests' own kinds
        assert kind.example_params is not None, kind.name
        kind.parse_params(kind.example_params)
