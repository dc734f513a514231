"""The user's job page (web/views.py job_detail, job_report, job_retry):
timings, the report of a finished job, the retry button, outcome colours."""

import pytest
from django.core.cache import cache

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus, UserQuota
from bulkyard.jobs.throttling import JobCreateThrottle
from tests.support.engine import created_job

pytestmark = pytest.mark.django_db

MIXED_CSV = b"id,text\n1,a\n2,b,extra\n3,c\n4,d\n"


def _page(client, job: Job) -> str:
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_job_list_shows_each_status_in_its_colour(browser_client, finished_job):
    job = finished_job(MIXED_CSV, fail_items=[4])

    page = browser_client.get("/jobs/").content.decode()

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert '<span class="by-badge by-status-completed_with_errors">' in page


def test_a_finished_job_shows_its_failures_by_code_and_its_failed_rows(
    browser_client, finished_job
):
    job = finished_job(MIXED_CSV, fail_items=[4])

    page = _page(browser_client, job)

    assert 'id="failures-by-code"' in page
    assert "<code>wrong_field_count</code>" in page
    assert "<td>id: 3</td><td><code>requested_failure</code></td>" in page
    assert "item 4 was asked to fail" in page


def test_the_page_shows_no_template_comment(browser_client, finished_job):
    page = _page(browser_client, finished_job(MIXED_CSV, fail_items=[4]))

    assert "{#" not in page
    assert "{% comment" not in page


def test_a_job_without_failures_says_so(browser_client, finished_job):
    page = _page(browser_client, finished_job(b"id,text\n1,a\n"))

    assert 'id="no-failures"' in page
    assert 'id="failed-items"' not in page


def test_a_running_job_shows_its_timings_and_no_report_yet(browser_client, user):
    job = created_job(user, b'{"n": 1}\n')

    page = _page(browser_client, job)

    assert 'id="timings"' in page
    assert 'id="report"' not in page
    assert f'data-job-report="/jobs/{job.pk}/report/"' in page


def test_a_finished_jobs_timings_show_when_it_started_and_finished(browser_client, finished_job):
    job = finished_job(b"id,text\n1,a\n")

    page = _page(browser_client, job)

    assert f"<dt>Started</dt><dd>{job.started_at:%Y-%m-%d %H:%M:%S}</dd>" in page
    assert f"<dt>Finished</dt><dd>{job.finished_at:%Y-%m-%d %H:%M:%S}</dd>" in page


def test_a_running_jobs_timings_leave_duration_and_rate_to_the_live_panel(browser_client, user):
    # Taken when the page was made, they would go stale while the job runs.
    job = created_job(user, b'{"n": 1}\n')

    page = _page(browser_client, job)

    assert 'data-timing="duration"' not in page
    assert 'id="timings-pending"' in page


def test_a_finished_jobs_timings_give_its_duration_and_rate(browser_client, finished_job):
    page = _page(browser_client, finished_job(b"id,text\n1,a\n"))

    assert 'data-timing="duration"' in page
    assert 'data-timing="items_per_second"' in page
    assert 'id="timings-pending"' not in page


def test_a_finished_job_without_failures_offers_no_failed_items_download(
    browser_client, finished_job
):
    page = _page(browser_client, finished_job(b"id,text\n1,a\n"))

    assert "outcome=failed" not in page
    assert "All results (CSV)" in page


def test_a_job_with_failures_offers_its_failed_items_download(browser_client, finished_job):
    page = _page(browser_client, finished_job(MIXED_CSV))

    assert "Failed items (CSV)" in page


@pytest.mark.parametrize(
    "status", [JobStatus.FAILED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.SUCCEEDED]
)
def test_the_bar_and_status_take_the_colour_of_the_outcome(browser_client, finished_job, status):
    job = finished_job(b"id,text\n1,a\n")
    Job.objects.filter(pk=job.pk).update(status=status)

    page = _page(browser_client, job)

    assert f'data-status="{status}"' in page  # bulkyard.css colours the bar by it
    assert f'class="by-badge by-status-{status}" data-job-field="status"' in page
    assert f"report by-outcome-{status}" in page


def test_the_output_button_is_hidden_for_a_job_without_output(browser_client, finished_job):
    page = _page(browser_client, finished_job(b"id,text\n1,a\n"))

    assert "download data-job-output hidden>Output file</a>" in page


def test_the_retry_button_shows_when_a_retry_would_find_items(browser_client, finished_job):
    page = _page(browser_client, finished_job(MIXED_CSV, fail_items=[4]))

    assert 'id="retry"' in page


def test_no_retry_button_when_a_retry_would_leave_out_every_failure(browser_client, finished_job):
    page = _page(browser_client, finished_job(MIXED_CSV))

    assert "<code>wrong_field_count</code>" in page
    assert 'id="retry"' not in page


def test_the_retry_button_starts_a_retry_and_shows_it(browser_client, finished_job, user):
    job = finished_job(MIXED_CSV, fail_items=[4])

    response = browser_client.post(f"/jobs/{job.pk}/retry/")

    retry = Job.objects.get(retry_of=job)
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{retry.pk}/"
    assert retry.submitted_items == 1
    assert f'retry of <a href="/jobs/{job.pk}/">' in _page(browser_client, retry)


def test_a_double_click_on_retry_makes_one_retry_job(browser_client, finished_job):
    job = finished_job(MIXED_CSV, fail_items=[4])

    first = browser_client.post(f"/jobs/{job.pk}/retry/")
    second = browser_client.post(f"/jobs/{job.pk}/retry/")

    assert Job.objects.filter(retry_of=job).count() == 1
    assert first["Location"] == second["Location"]


def test_the_retry_the_button_made_is_linked_in_place_of_the_button(browser_client, finished_job):
    job = finished_job(MIXED_CSV, fail_items=[4])
    browser_client.post(f"/jobs/{job.pk}/retry/")
    retry = Job.objects.get(retry_of=job)

    page = _page(browser_client, job)

    assert f'<a href="/jobs/{retry.pk}/">{str(retry.pk)[:8]}</a>' in page
    assert 'id="retry"' not in page


def test_a_retry_made_through_the_api_leaves_the_button(browser_client, finished_job, user):
    job = finished_job(MIXED_CSV, fail_items=[4])
    services.job_retry_failed(job=job, owner=user)

    page = _page(browser_client, job)

    assert 'id="retries"' in page
    assert 'id="retry"' in page


def test_a_retry_with_nothing_to_retry_says_why(browser_client, finished_job):
    job = finished_job(MIXED_CSV)

    response = browser_client.post(f"/jobs/{job.pk}/retry/", follow=True)

    assert not Job.objects.filter(retry_of=job).exists()
    # Its only failure is a row the reader could not read: the same bytes would fail again.
    assert "Not retried: nothing to retry: none of its failures is one a retry could help" in (
        response.content.decode()
    )


def test_a_retry_over_a_quota_is_refused_naming_it(browser_client, finished_job, user):
    job = finished_job(MIXED_CSV, fail_items=[4])
    UserQuota.objects.create(user=user, items_per_day=1)

    response = browser_client.post(f"/jobs/{job.pk}/retry/", follow=True)

    assert not Job.objects.filter(retry_of=job).exists()
    assert "quota items_per_day" in response.content.decode()


@pytest.fixture
def no_budget(monkeypatch):
    cache.clear()
    rates = {**JobCreateThrottle.THROTTLE_RATES, "job_create": "0/min"}
    monkeypatch.setattr(JobCreateThrottle, "THROTTLE_RATES", rates)
    yield
    cache.clear()


def test_retries_spend_the_job_creation_budget(browser_client, finished_job, no_budget):
    job = finished_job(MIXED_CSV, fail_items=[4])

    response = browser_client.post(f"/jobs/{job.pk}/retry/", follow=True)

    assert not Job.objects.filter(retry_of=job).exists()
    assert "faster than allowed" in response.content.decode()


def test_the_retry_of_another_users_job_is_404(browser_client, finished_job, other_user):
    job = finished_job(MIXED_CSV, owner=other_user, fail_items=[4])

    assert browser_client.post(f"/jobs/{job.pk}/retry/").status_code == 404
    assert not Job.objects.filter(retry_of=job).exists()


def test_the_report_fragment_is_the_owners_only(browser_client, finished_job, other_user):
    mine = finished_job(MIXED_CSV, fail_items=[4])
    theirs = finished_job(MIXED_CSV, owner=other_user)

    fragment = browser_client.get(f"/jobs/{mine.pk}/report/")

    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'id="failures-by-code"' in fragment.content
    assert browser_client.get(f"/jobs/{theirs.pk}/report/").status_code == 404
