"""Quotas, the read side (bulkyard/jobs/quotas.py): the day, the limits and
the usage, for one user and for a page of users."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus, UserQuota
from bulkyard.jobs.quotas import annotated_states, day_window, quota_report, users_with_usage
from tests.support.engine import created_job, job_input, planned_job

pytestmark = pytest.mark.django_db


def _report(user) -> dict:
    return {state.name: state for state in quota_report(user=user)}


def test_the_day_is_the_utc_calendar_day():
    assert day_window(datetime(2026, 11, 25, 17, 30, tzinfo=UTC)) == (
        datetime(2026, 11, 25, tzinfo=UTC),
        datetime(2026, 11, 26, tzinfo=UTC),
    )


def test_a_day_starts_at_midnight_utc_whatever_the_time_zone_of_now():
    tokyo = timezone.get_fixed_timezone(9 * 60)
    early_in_tokyo = datetime(2026, 11, 26, 2, 0, tzinfo=tokyo)  # 17:00 UTC the day before

    assert day_window(early_in_tokyo)[0] == datetime(2026, 11, 25, tzinfo=UTC)


def test_limits_are_the_settings_without_an_override(user, settings):
    settings.BULKYARD_QUOTA_RUNNING_JOBS = 3
    settings.BULKYARD_QUOTA_ITEMS_PER_DAY = 0

    report = _report(user)

    assert (report["running_jobs"].limit, report["items_per_day"].limit) == (3, None)


def test_an_override_replaces_only_the_limits_it_sets(user, settings):
    settings.BULKYARD_QUOTA_RUNNING_JOBS = 3
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 4
    UserQuota.objects.create(user=user, running_jobs=7)

    report = _report(user)

    assert (report["running_jobs"].limit, report["queued_jobs"].limit) == (7, 4)


def test_only_running_and_cancelling_jobs_count_as_running_and_queued_ones_as_queued(user, sent):
    created_job(user, b'{"n": 1}\n')
    planned_job(user)
    services.job_cancel(job=planned_job(user))
    finished = planned_job(user)
    Job.objects.filter(pk=finished.pk).update(status=JobStatus.SUCCEEDED)

    report = _report(user)

    assert (report["running_jobs"].used, report["queued_jobs"].used) == (2, 1)


def test_uploaded_bytes_add_up_inputs_and_attachments_of_the_day(user, sent):
    attachment = services.AttachmentInput(
        file=ContentFile(b"x" * 100),
        name="a.pdf",
        content_type="",
        sha256="0" * 64,
        size=100,
    )
    services.job_create(
        owner=user,
        kind="email.send",
        params={"subject": "Hi", "text": "Hello"},
        job_input=job_input(b"email\nada@example.com\n", "csv"),
        attachments=[attachment],
    )
    created_job(user, b'{"n": 1}\n')

    assert _report(user)["upload_bytes_per_day"].used == 22 + 100 + 9


def test_a_report_gives_the_day_quotas_a_reset_and_the_job_quotas_none(user):
    now = timezone.now()

    report = {state.name: state for state in quota_report(user=user, now=now)}

    assert report["items_per_day"].resets_at == day_window(now)[1]
    assert report["running_jobs"].resets_at is None


def test_each_user_of_a_page_gets_their_own_usage(user, other_user, sent):
    UserQuota.objects.create(user=user, items_per_day=50)
    created_job(user, b'{"n": 1}\n')
    planned_job(user, items=12)
    planned_job(other_user, items=7)
    now = timezone.now()

    page = {u.pk: u for u in users_with_usage(User.objects.all(), now=now)}

    mine = {s.name: s for s in annotated_states(page[user.pk], now=now)}
    theirs = {s.name: s for s in annotated_states(page[other_user.pk], now=now)}
    assert (mine["queued_jobs"].used, mine["running_jobs"].used) == (1, 1)
    assert (mine["items_per_day"].used, mine["items_per_day"].limit) == (12, 50)
    assert (theirs["queued_jobs"].used, theirs["items_per_day"].used) == (0, 7)


def test_a_page_of_users_and_one_user_are_counted_alike(user, other_user, sent):
    """The admin's annotations and the submission check's query are written
    twice (ORM and SQL): they must agree, job statuses, days and retries included."""
    UserQuota.objects.create(user=user, running_jobs=9, upload_bytes_per_day=0)
    created_job(user, b'{"n": 1}\n')
    services.job_cancel(job=planned_job(user, items=30))
    yesterday = planned_job(user, items=4)
    start, _ = day_window(timezone.now())
    Job.objects.filter(pk=yesterday.pk).update(created_at=start - timedelta(seconds=1))
    retry = created_job(user, b'{"n": 1}\n{"n": 2}\n')
    Job.objects.filter(pk=retry.pk).update(input_format="retry")
    planned_job(other_user, items=7)
    now = timezone.now()

    page = {u.pk: u for u in users_with_usage(User.objects.all(), now=now)}

    for each in (user, other_user):
        assert annotated_states(page[each.pk], now=now) == quota_report(user=each, now=now)
