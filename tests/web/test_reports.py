"""web/reports.py: what the job page's timings and report are made of."""

from datetime import timedelta

import pytest

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.web import reports
from tests.support.engine import created_job

pytestmark = pytest.mark.django_db

# Line 3 has a field too many: the reader fails it (wrong_field_count).
MIXED_CSV = b"id,text\n1,a\n2,b,extra\n3,c\n4,d\n5,e\n"


def test_failures_are_counted_by_code_commonest_first(finished_job):
    job = finished_job(MIXED_CSV, fail_items=[4, 5])

    report = reports.job_report(job=job)

    assert [(f.code, f.count) for f in report["failures"]] == [
        ("requested_failure", 2),
        ("wrong_field_count", 1),
    ]


def test_codes_a_retry_leaves_out_are_marked_not_retried(finished_job):
    job = finished_job(MIXED_CSV, fail_items=[4])

    retried = {f.code: f.retried for f in reports.job_report(job=job)["failures"]}

    assert retried == {"requested_failure": True, "wrong_field_count": False}


def test_the_first_twenty_failed_items_are_listed_in_item_order(finished_job):
    body = b"id,text\n" + b"".join(b"%d,t\n" % n for n in range(30))
    job = finished_job(body, fail_items=list(range(2, 32)))

    listed = reports.job_report(job=job)["first_failed"]

    assert [item.number for item in listed] == list(range(2, 22))
    assert listed[0].code == "requested_failure"
    assert listed[0].message == "item 2 was asked to fail"


def test_a_failed_row_is_named_by_its_id_field(finished_job):
    job = finished_job(b"text,id\nhello,A-17\n", fail_items=[2])

    assert reports.job_report(job=job)["first_failed"][0].key == "id: A-17"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"city": "Oslo", "email": "ada@example.com"}, "email: ada@example.com"),
        ({"city": "Oslo", "age": 3}, "city: Oslo"),
        (7, "7"),
        ("x" * 100, "x" * 59 + "…"),
        (None, ""),
    ],
)
def test_an_item_key_names_the_item(data, key):
    assert reports.item_key(data) == key


def test_a_summarys_nested_objects_become_nested_entries():
    entries = reports.summary_entries({"sent": 1200, "failures_by_code": {"bounced": 3}})

    assert entries == [
        reports.SummaryEntry(label="Sent", value="1,200"),
        reports.SummaryEntry(
            label="Failures by code", children=(reports.SummaryEntry("Bounced", "3"),)
        ),
    ]


def test_a_summarys_plain_lists_are_joined_and_deep_parts_shown_as_json():
    entries = reports.summary_entries(
        {"languages": ["en", "fr"], "a": {"b": {"c": {"d": 1}}}, "dry_run": False}
    )

    assert entries[0].value == "en, fr"
    assert entries[1].children[0].children[0] == reports.SummaryEntry("C", '{"d": 1}')
    assert entries[2].value == "no"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, reports.NOTHING), (4.24, "4.2 s"), (187, "3 min 7 s"), (7500, "2 h 5 min")],
)
def test_a_duration_reads_as_a_person_says_it(seconds, text):
    assert reports.duration_text(seconds) == text


def test_the_timings_give_duration_and_rate_without_the_pauses(user):
    job = created_job(user, b'{"n": 1}\n')
    start = job.created_at + timedelta(seconds=5)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        started_at=start,
        finished_at=start + timedelta(seconds=70),
        time_paused=timedelta(seconds=20),
        processed_items=100,
        total_items=100,
    )

    timings = reports.job_timings(job=Job.objects.get(pk=job.pk))

    assert (timings.duration, timings.items_per_second) == ("50.0 s", "2.0")
    assert timings.finished_at == start + timedelta(seconds=70)


def test_an_unfinished_job_has_timings_and_no_report(user):
    report = reports.job_report(job=created_job(user, b'{"n": 1}\n'))

    assert report["timings"].started_at is None
    assert not report["finished"]
    assert "failures" not in report


def test_a_job_whose_failures_a_retry_leaves_out_cannot_be_retried(finished_job):
    job = finished_job(b"id,text\n1,a\n2,b,extra\n")

    assert job.failed_items == 1
    assert not reports.job_report(job=job)["can_retry"]


def test_a_job_with_a_retryable_failure_can_be_retried(finished_job):
    job = finished_job(b"id,text\n1,a\n2,b,extra\n", fail_items=[2])

    assert reports.job_report(job=job)["can_retry"]


def test_the_retries_of_a_job_are_listed(finished_job, user):
    job = finished_job(b"id,text\n1,a\n", fail_items=[2])
    retry, _ = services.job_retry_failed(job=job, owner=user)

    assert reports.job_report(job=job)["retries"] == [retry]
