"""Quotas, the read side (bulkyard/jobs/quotas.py): the day, the limits and
the usage, for one user and for a page of users."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus, UserQuota
from bulkyard.jobs.quotas import (
    annotated_states,
    day_window,
    quota_limits,
    quota_report,
    quota_usage,
    users_with_usage,
)
from tests.support.engine import created_job, job_input, planned_job

pytestmark = pytest.mark.django_db


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

    limits = quota_limits(user_id=user.pk)

    assert (limits["running_jobs"], limits["items_per_day"]) == (3, None)


def test_an_override_replaces_only_the_limits_it_sets(user, settings):
    settings.BULKYARD_QUOTA_RUNNING_JOBS = 3
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 4
    UserQuota.objects.create(user=user, running_jobs=7)

    limits = quota_limits(user_id=user.pk)

    assert (limits["running_jobs"], limits["queued_jobs"]) == (7, 4)


def test_only_running_and_cancelling_jobs_count_as_running_and_queued_ones_as_queued(user, sent):
    created_job(user, b'{"n": 1}\n')
    planned_job(user)
    services.job_cancel(job=planned_job(user))
    finished = planned_job(user)
    Job.objects.filter(pk=finished.pk).update(status=JobStatus.SUCCEEDED)

    usage = quota_usage(user_id=user.pk, now=timezone.now())

    assert (usage["running_jobs"], usage["queued_jobs"]) == (2, 1)


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

    usage = quota_usage(user_id=user.pk, now=timezone.now())

    assert usage["upload_bytes_per_day"] == 22 + 100 + 9


def test_a_report_gives_the_day_quotas_a_reset_and_the_job_quotas_none(user):
    now = timezone.now()

    report = {state.name: state for state in quota_report(user=user, now=now)}

    assert report["items_per_day"].resets_at == day_window(now)[1]
    assert report["running_jobs"].resets_at is None


def test_the_usage_of_a_page_of_users_is_the_usage_of_each(user, other_user, sent):
    UserQuota.objects.create(user=user, items_per_day=50)
    created_job(user, b'{"n": 1}\n')
    planned_job(user, items=12)
    planned_job(other_user, items=7)
    now = timezone.now()

    annotated = {u.pk: u for u in users_with_usage(User.objects.all(), now=now)}

    for each in (user, other_user):
        assert annotated_states(annotated[each.pk], now=now) == quota_report(user=each, now=now)
