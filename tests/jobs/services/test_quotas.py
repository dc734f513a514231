"""Refusing jobs over a quota (bulkyard/jobs/services/quotas.py), through
``job_create`` on the real database: each quota refuses a job before anything
is stored, and frees when a job moves on or the UTC day ends."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus, UserQuota
from bulkyard.jobs.quotas import day_window
from bulkyard.jobs.services import finishing, planning
from tests.factories import UserFactory
from tests.support.engine import created_job, job_input, planned_job, run_every_chunk
from tests.support.jobs import wait_until

pytestmark = pytest.mark.django_db

ONE_ITEM = b'{"n": 1}\n'


def _limit(user, **limits) -> None:
    UserQuota.objects.update_or_create(user=user, defaults=limits)


def _inline(user, items: int, **fields):
    """A job of ``items`` inline items, as the API submits it."""
    body = b"".join(f'{{"n": {n}}}\n'.encode() for n in range(items))
    return services.job_create(
        owner=user,
        kind="test.echo",
        params={},
        job_input=job_input(body),
        item_count=items,
        **fields,
    )


def _refused(user, submit) -> services.QuotaExceeded:
    """Submit, expect a refusal, and check that nothing of the job was stored."""
    jobs_before = Job.objects.filter(owner=user).count()
    inputs = Path(settings.MEDIA_ROOT) / "jobs" / str(user.pk) / "inputs"
    files_before = sorted(inputs.iterdir()) if inputs.exists() else []

    with pytest.raises(services.QuotaExceeded) as caught:
        submit()

    assert Job.objects.filter(owner=user).count() == jobs_before
    assert (sorted(inputs.iterdir()) if inputs.exists() else []) == files_before
    return caught.value


def _finish(job: Job) -> Job:
    run_every_chunk(job)
    assert finishing.job_finalize(job_id=str(job.pk)) not in ("skipped", "second_pass")
    return Job.objects.get(pk=job.pk)


# -- running_jobs ----------------------------------------------------------------


def test_a_job_is_refused_while_the_owner_has_as_many_jobs_running_as_the_limit(user, sent):
    _limit(user, running_jobs=1)
    planned_job(user)

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert (refused.quota, refused.limit, refused.used) == ("running_jobs", 1, 1)
    assert refused.code == "quota_exceeded"
    assert "running_jobs" in refused.message


def test_a_running_job_that_ends_frees_the_running_quota(user, sent):
    _limit(user, running_jobs=1)
    running = planned_job(user)
    _finish(running)

    job, created = _inline(user, 1)

    assert created
    assert job.status == JobStatus.QUEUED


def test_a_cancelling_job_still_counts_as_running(user, sent):
    _limit(user, running_jobs=1)
    services.job_cancel(job=planned_job(user))

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert refused.quota == "running_jobs"


# -- queued_jobs -----------------------------------------------------------------


def test_a_job_is_refused_while_the_owner_has_as_many_jobs_queued_as_the_limit(user, sent):
    _limit(user, queued_jobs=2)
    created_job(user, ONE_ITEM)
    created_job(user, ONE_ITEM)

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert (refused.quota, refused.limit, refused.used) == ("queued_jobs", 2, 2)


def test_a_queued_job_that_starts_frees_the_queued_quota(user, sent):
    _limit(user, queued_jobs=1)
    queued = created_job(user, ONE_ITEM)
    assert planning.job_plan(job_id=str(queued.pk)) == "planned"

    _, created = _inline(user, 1)

    assert created


def test_a_cancelled_queued_job_frees_the_queued_quota(user, sent):
    _limit(user, queued_jobs=1)
    services.job_cancel(job=created_job(user, ONE_ITEM))

    _, created = _inline(user, 1)

    assert created


def test_a_refusal_for_a_job_quota_says_to_retry_after_a_short_fixed_wait(user, sent):
    _limit(user, queued_jobs=1)
    created_job(user, ONE_ITEM)

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert refused.retry_after == services.quotas.RETRY_AFTER_SECONDS["queued_jobs"]
    assert refused.resets_at is None


# -- paused jobs -----------------------------------------------------------------


def test_a_paused_job_counts_against_neither_job_quota(user, sent):
    _limit(user, running_jobs=1, queued_jobs=1)
    services.job_pause(job=planned_job(user))
    services.job_pause(job=created_job(user, ONE_ITEM))

    _, created = _inline(user, 1)

    assert created


def test_resuming_a_planned_job_is_refused_while_the_running_quota_is_used_up(user, sent):
    _limit(user, running_jobs=1)
    paused = services.job_pause(job=planned_job(user))
    planned_job(user)

    with pytest.raises(services.QuotaExceeded) as caught:
        services.job_resume(job=paused)

    assert caught.value.quota == "running_jobs"
    assert Job.objects.get(pk=paused.pk).status == JobStatus.PAUSED


def test_resuming_a_job_paused_before_planning_needs_a_queued_place(user, sent):
    _limit(user, queued_jobs=1, running_jobs=0)
    paused = services.job_pause(job=created_job(user, ONE_ITEM))
    created_job(user, ONE_ITEM)

    with pytest.raises(services.QuotaExceeded) as caught:
        services.job_resume(job=paused)

    assert caught.value.quota == "queued_jobs"


def test_a_paused_job_resumes_once_its_place_is_free(user, sent):
    _limit(user, running_jobs=1)
    paused = services.job_pause(job=planned_job(user))
    _finish(planned_job(user))

    assert services.job_resume(job=paused).status == JobStatus.RUNNING


# -- items_per_day ---------------------------------------------------------------


def test_inline_items_beyond_what_remains_today_are_refused(user, sent):
    _limit(user, items_per_day=10)
    _inline(user, 6)

    refused = _refused(user, lambda: _inline(user, 5))

    assert (refused.quota, refused.limit, refused.used, refused.requested) == (
        "items_per_day",
        10,
        6,
        5,
    )


def test_inline_items_that_use_up_exactly_what_remains_are_accepted(user, sent):
    _limit(user, items_per_day=10)
    _inline(user, 6)

    _, created = _inline(user, 4)

    assert created


def test_an_upload_whose_items_only_planning_counts_is_let_in_while_items_remain(user, sent):
    _limit(user, items_per_day=10)
    _inline(user, 9)
    upload = created_job(user, b"".join(f'{{"n": {n}}}\n'.encode() for n in range(20)))
    planning.job_plan(job_id=str(upload.pk))

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    # The upload took the day past the limit; nothing more is let in today.
    assert (refused.quota, refused.used, refused.requested) == ("items_per_day", 29, None)


def test_a_cancelled_job_counts_only_the_items_it_processed(user, sent):
    _limit(user, items_per_day=10)
    services.job_cancel(job=_inline(user, 8)[0])

    _, created = _inline(user, 10)

    assert created


def test_a_retry_counts_its_items(user, sent):
    finished = _finish(planned_job(user, items=5, params={"fail_items": [1, 2, 3]}))
    _limit(user, items_per_day=7)

    refused = _refused(user, lambda: services.job_retry_failed(job=finished, owner=user))

    assert (refused.quota, refused.used, refused.requested) == ("items_per_day", 5, 3)


# -- upload_bytes_per_day --------------------------------------------------------


def test_an_upload_beyond_the_bytes_that_remain_today_is_refused(user, sent):
    _limit(user, upload_bytes_per_day=100)
    created_job(user, b'{"n": 1234567890}\n' * 4)  # 72 bytes

    refused = _refused(user, lambda: created_job(user, b'{"n": 1234567890}\n' * 2))

    assert (refused.quota, refused.limit, refused.used, refused.requested) == (
        "upload_bytes_per_day",
        100,
        72,
        36,
    )


def test_attachments_count_as_uploaded_bytes(user, sent):
    _limit(user, upload_bytes_per_day=1000)
    attachment = services.AttachmentInput(
        file=ContentFile(b"x" * 990), name="a.pdf", content_type="", sha256="0" * 64, size=990
    )

    refused = _refused(
        user,
        lambda: services.job_create(
            owner=user,
            kind="email.send",
            params={"subject": "Hi", "text": "Hello"},
            job_input=job_input(b"email\nada@example.com\n", "csv"),
            attachments=[attachment],
        ),
    )

    assert (refused.quota, refused.requested) == ("upload_bytes_per_day", 990 + 22)
    assert not list((Path(settings.MEDIA_ROOT) / "jobs").rglob("a.pdf"))


def test_a_retry_uploads_nothing(user, sent):
    finished = _finish(planned_job(user, items=5, params={"fail_items": [1]}))
    _limit(user, upload_bytes_per_day=finished.input_size)

    _, created = services.job_retry_failed(job=finished, owner=user)

    assert created


def test_a_day_quota_says_to_retry_when_the_utc_day_ends(user, sent):
    _limit(user, upload_bytes_per_day=10)

    refused = _refused(user, lambda: created_job(user, b'{"n": 1234567890}\n'))

    assert refused.resets_at == day_window(timezone.now())[1]
    assert 1 <= refused.retry_after <= 24 * 3600


def test_jobs_submitted_before_today_utc_no_longer_count(user, sent):
    _limit(user, items_per_day=10, upload_bytes_per_day=100)
    job, _ = _inline(user, 10)
    start, _ = day_window(timezone.now())
    Job.objects.filter(pk=job.pk).update(created_at=start - timedelta(seconds=1))

    _, created = _inline(user, 10)

    assert created


# -- limits, overrides, locking, replays -----------------------------------------


def test_the_settings_limit_everybody_without_an_override(user, sent, settings):
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 1
    created_job(user, ONE_ITEM)

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert (refused.quota, refused.limit) == ("queued_jobs", 1)


def test_an_override_of_zero_is_unlimited(user, sent, settings):
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 1
    _limit(user, queued_jobs=0)
    created_job(user, ONE_ITEM)

    _, created = _inline(user, 1)

    assert created


def test_an_empty_override_field_keeps_the_default(user, sent, settings):
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 1
    _limit(user, queued_jobs=None, running_jobs=5)
    created_job(user, ONE_ITEM)

    refused = _refused(user, lambda: created_job(user, ONE_ITEM))

    assert (refused.quota, refused.limit) == ("queued_jobs", 1)


def test_staff_are_held_to_their_quotas_too(sent):
    staff = UserFactory(is_staff=True, is_superuser=True)
    _limit(staff, queued_jobs=1)
    created_job(staff, ONE_ITEM)

    refused = _refused(staff, lambda: created_job(staff, ONE_ITEM))

    assert refused.quota == "queued_jobs"


def test_another_users_jobs_do_not_count(user, other_user, sent):
    _limit(user, queued_jobs=1)
    created_job(other_user, ONE_ITEM)

    _, created = _inline(user, 1)

    assert created


def test_a_repeated_idempotency_key_is_answered_at_the_limit(user, sent):
    _limit(user, queued_jobs=1)
    first, _ = _inline(user, 1, idempotency_key="k-1")

    services.quota_check_early(owner=user, idempotency_key="k-1")
    again, created = _inline(user, 1, idempotency_key="k-1")

    assert (again.pk, created) == (first.pk, False)


def test_the_early_check_refuses_a_user_with_no_quota_left(user, sent):
    _limit(user, items_per_day=1)
    _inline(user, 1)

    with pytest.raises(services.QuotaExceeded) as caught:
        services.quota_check_early(owner=user)

    assert caught.value.quota == "items_per_day"


@pytest.mark.django_db(transaction=True)
def test_a_submission_waits_for_one_in_flight_and_then_counts_it(sent):
    """Two submissions of one user at once cannot both take the last place:
    the second waits on the owner's lock until the first commits, then
    counts it. Without the lock it would not wait; with usage read by the
    statement that waited, it would not see the first job: both would pass."""
    owner = UserFactory()
    _limit(owner, queued_jobs=1)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            outcome["job"] = created_job(owner, b'{"n": 2}\n')
        except services.QuotaExceeded as exc:
            outcome["refused"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        created_job(owner, ONE_ITEM)  # holds the owner's lock until this block commits
        thread = threading.Thread(target=second)
        thread.start()
        wait_until(_a_session_waits_for_a_lock, message="the second submission waiting")
    thread.join(timeout=30)

    refused = outcome.get("refused")
    assert isinstance(refused, services.QuotaExceeded)
    assert refused.quota == "queued_jobs"
    assert Job.objects.filter(owner=owner).count() == 1


def _a_session_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Within a transaction the statistics views keep their first snapshot.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return bool(cursor.fetchone()[0])
