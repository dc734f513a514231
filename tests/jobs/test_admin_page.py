"""The staff's job page beyond Django's form (bulkyard/jobs/admin_page.py): its
live parts as JSON and its Pause/Resume/Cancel/Retry buttons, in-process on
the real database (wake-ups recorded by ``sent``, no worker)."""

import pytest
from django.contrib.auth.models import Permission

from bulkyard.jobs import selectors
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.services import finishing
from tests.factories import UserFactory
from tests.support.engine import planned_job, run_every_chunk

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def viewer(client):
    """Staff who may look at jobs but not act on them."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    return client


def _finished(user, *, fail_items: list[int]) -> Job:
    job = planned_job(user, params={"fail_items": fail_items})
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    return Job.objects.get(pk=job.pk)


def _live(client, job: Job):
    return client.get(f"/admin/bulkyard_jobs/job/{job.pk}/live/")


def test_the_live_parts_of_a_running_job_show_its_status_and_chunks(staff, user, sent):
    job = planned_job(user)

    data = _live(staff, job).json()

    assert data["status"] == "running"
    assert data["finished"] is False
    assert "0 of 3 finished" in data["parts"]["status"]
    assert data["parts"]["chunks"].count("<td>Pending</td>") == 3
    assert "Given when the job finishes" in data["parts"]["summary"]


def test_the_live_parts_of_a_finished_job_show_its_end(staff, user, sent):
    job = _finished(user, fail_items=[2])

    data = _live(staff, job).json()

    assert data["finished"] is True
    assert "Completed with errors" in data["parts"]["status"]
    assert "3 of 3 finished" in data["parts"]["status"]
    assert data["parts"]["chunks"].count("<td>Done</td>") == 3


def test_the_summary_part_shows_the_kinds_summary_once_the_job_finished(staff, user, sent):
    job = _finished(user, fail_items=[])
    Job.objects.filter(pk=job.pk).update(summary={"words": 3, "<b>": "x"})

    summary = _live(staff, job).json()["parts"]["summary"]

    assert "&quot;words&quot;: 3" in summary
    assert "&lt;b&gt;" in summary


def test_the_live_parts_say_which_buttons_apply(staff, user, sent):
    job = planned_job(user)

    controls = _live(staff, job).json()["controls"]

    assert controls == {"pause": True, "resume": False, "cancel": True, "retry": False}


def test_anyone_not_staff_is_sent_to_the_admin_login_for_the_live_parts(client, user, sent):
    job = planned_job(user)
    client.force_login(user)

    response = _live(client, job)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_view_permission_may_not_read_the_live_parts(client, user, sent):
    client.force_login(UserFactory(is_staff=True))
    job = planned_job(user)

    assert _live(client, job).status_code == 403


def test_the_cancel_button_cancels_the_job(staff, user, sent):
    job = planned_job(user)

    response = staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/cancel/", follow=True)

    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLING
    assert response.redirect_chain[-1][0] == f"/admin/bulkyard_jobs/job/{job.pk}/change/"


def test_the_resume_button_resumes_a_paused_job(staff, user, sent):
    job = planned_job(user)
    staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/pause/")

    staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/resume/")

    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_retry_button_creates_a_retry_and_opens_its_page(staff, user, sent):
    job = _finished(user, fail_items=[2, 3])

    response = staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/retry/", follow=True)

    retry = Job.objects.get(retry_of=job)
    assert (retry.owner, retry.submitted_items) == (user, 2)
    assert response.redirect_chain[-1][0] == f"/admin/bulkyard_jobs/job/{retry.pk}/change/"


def test_the_retry_button_pressed_twice_makes_one_retry(staff, user, sent):
    job = _finished(user, fail_items=[2])

    staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/retry/")
    second = staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/retry/", follow=True)

    retry = Job.objects.get(retry_of=job)
    assert second.redirect_chain[-1][0] == f"/admin/bulkyard_jobs/job/{retry.pk}/change/"


def test_the_retry_button_of_a_job_without_failures_says_why_and_creates_nothing(staff, user, sent):
    job = _finished(user, fail_items=[])

    response = staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/retry/", follow=True)

    assert not Job.objects.filter(retry_of=job).exists()
    assert "nothing to retry: no item of the job failed" in response.content.decode().lower()


def test_the_buttons_take_only_a_post(staff, user, sent):
    job = planned_job(user)

    assert staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/cancel/").status_code == 405
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_viewing_staff_may_not_cancel(viewer, user, sent):
    job = planned_job(user)

    assert viewer.post(f"/admin/bulkyard_jobs/job/{job.pk}/cancel/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_job_page_shows_only_the_buttons_that_apply(staff, user, sent):
    job = _finished(user, fail_items=[1])

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()

    assert '<li data-control="retry">' in page
    assert '<li data-control="cancel" hidden>' in page
    assert '<li data-control="pause" hidden>' in page


def test_the_job_pages_title_leaves_out_the_status_that_goes_stale(staff, user, sent):
    job = planned_job(user)

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()

    assert f"test.echo {job.pk} (running)" not in page
    assert f"test.echo {job.pk}" in page


def test_retry_applies_to_a_finished_job_with_retryable_failures(user, sent):
    job = _finished(user, fail_items=[1])

    assert selectors.job_controls(job=job).retry is True


def test_retry_does_not_apply_when_every_failure_is_one_the_kind_never_retries(
    user, sent, monkeypatch
):
    from bulkyard.jobs import registry

    job = _finished(user, fail_items=[1])
    monkeypatch.setattr(
        registry.get("test.echo"), "not_retried_codes", frozenset({"requested_failure"})
    )

    assert selectors.job_controls(job=job).retry is False


def test_retry_does_not_apply_to_a_running_job(user, sent):
    job = planned_job(user, params={"fail_items": [1]})
    run_every_chunk(job)  # failures, but the job's finish step has not run

    assert selectors.job_controls(job=job).retry is False


def test_retry_does_not_apply_to_a_job_of_a_kind_no_longer_installed(staff, user, sent):
    job = _finished(user, fail_items=[1])
    Job.objects.filter(pk=job.pk).update(kind="gone.kind")

    response = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/")

    assert response.status_code == 200
    assert selectors.job_controls(job=Job.objects.get(pk=job.pk)).retry is False
