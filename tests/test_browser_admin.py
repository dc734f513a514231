"""Staff in a real browser (headless Debian Chromium, Playwright) against the
ASGI server and a real worker: the admin job page follows a job to its end
without a reload, the job list fits 1280 px, the dashboard draws its chart.
No Content-Security-Policy violation on the way. Screenshots in test-artifacts/."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bulkyard.jobs.models import Job, JobStatus
from tests.factories import UserFactory
from tests.support.browser import ARTIFACTS, CspViolations, log_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _submit(base: str, *, items: int, params: dict, owner_name: str | None = None) -> dict:
    # A User; the factory's type says otherwise.
    owner: Any = UserFactory(**({"username": owner_name} if owner_name else {}))
    token = Token.objects.create(user=owner).key
    return httpx.post(
        f"{base}/api/v1/jobs/",
        headers={"Authorization": f"Token {token}"},
        json={"kind": "test.echo", "items": [{"n": n} for n in range(items)], "params": params},
        timeout=30,
    ).json()


def _staff_signed_in(page, base: str, *, path: str) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    log_in(page, base, staff, path=f"/admin/login/?next={path}")


def test_the_admin_job_page_shows_the_jobs_end_without_a_reload(page, asgi_server):
    from playwright.sync_api import expect

    violations = CspViolations(page)
    job = _submit(asgi_server, items=120, params={"sleep_per_item": 0.03, "fail_items": [3]})
    path = f"/admin/bulkyard_jobs/job/{job['id']}/change/"

    _staff_signed_in(page, asgi_server, path=path)
    expect(page).to_have_url(f"{asgi_server}{path}")
    # The parts are fetched on the WebSocket's first message, not at the
    # first slow poll (10 s): live.js's event reaches admin_live.js.
    with page.expect_request(lambda r: r.url.endswith("/live/"), timeout=5000):
        page.reload()
    status = page.locator('[data-live-part="status"]')
    first_seen = status.inner_text()
    expect(page.locator('[data-control="cancel"]')).to_be_visible()
    expect(status).to_contain_text("Completed with errors")
    expect(status).to_contain_text("12 of 12 finished")
    expect(page.locator('[data-live-part="chunks"]')).not_to_contain_text("Pending")
    expect(page.locator('[data-live-part="summary"]')).to_contain_text("The kind gave no summary")
    expect(page.locator('[data-control="retry"]')).to_be_visible()
    expect(page.locator('[data-control="cancel"]')).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "admin-job-page-finished.png"), full_page=True)

    assert "Completed with errors" not in first_seen  # it changed in place
    assert violations.all() == []


def test_the_admin_job_list_shows_its_last_column_within_1280_px(page, asgi_server):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 800})
    job = _submit(
        asgi_server, items=10, params={}, owner_name="someone.with.a.long.name@example.com"
    )
    # The widest cells a list shows: a long owner name, the longest kind and
    # status, a million items, an hour's run.
    finished = timezone.now()
    Job.objects.filter(pk=job["id"]).update(
        kind="image.process",
        status=JobStatus.COMPLETED_WITH_ERRORS,
        processed_items=1_012_345,
        succeeded_items=1_000_000,
        failed_items=12_345,
        total_items=1_012_345,
        started_at=finished - timedelta(seconds=3725),
        finished_at=finished,
    )
    _staff_signed_in(page, asgi_server, path="/admin/bulkyard_jobs/job/")
    expect(page.locator("#result_list")).to_contain_text(job["id"][:8])
    page.screenshot(path=str(ARTIFACTS / "admin-job-list-1280.png"))

    # The list's own box, left of the filters: a wider table runs under them.
    room = page.locator("#changelist .changelist-form-container").bounding_box()
    assert room is not None
    for column in ("throughput", "duration", "created"):
        box = page.locator(f"#result_list th.column-{column}").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= room["x"] + room["width"] + 1, column  # rounding
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_the_dashboard_draws_the_last_hour_and_lists_the_worker(page, asgi_server):
    from playwright.sync_api import expect

    violations = CspViolations(page)
    job = _submit(asgi_server, items=30, params={"fail_items": [1, 2]})
    _staff_signed_in(page, asgi_server, path="/admin/")
    page.click("#dashboard-link")
    expect(page).to_have_url(f"{asgi_server}/admin/dashboard/")
    expect(page.locator("#workers li")).not_to_have_count(0)
    # The job was quick: reload until its chunks count in the hour.
    for _ in range(20):
        if "30 items" in page.locator("#throughput h2").inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#throughput h2")).to_contain_text("30 items in 3 chunks")
    expect(page.locator("#throughput-chart rect")).to_have_count(60)
    expect(page.locator("#failures")).to_contain_text("requested_failure")
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

    assert job["id"]
    assert violations.all() == []
