"""The user's job page in a real browser (headless Debian Chromium) with a
real worker: a job with failures shows its report once it finishes, without a
reload; its colours say how it ended; its retry button starts the retry; a job
that is not the user's is the styled 404. Screenshots go to test-artifacts/."""

import json
import uuid

import httpx
import pytest
from rest_framework.authtoken.models import Token

from bulkyard.jobs.models import Job
from tests.factories import UserFactory
from tests.support.browser import ARTIFACTS, CspViolations, log_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

AMBER = "rgb(202, 138, 4)"
RED = "rgb(220, 38, 38)"
# Line 4 has a field too many (the reader fails it); lines 6 and 9 fail in
# the kind (requested_failure). A retry takes lines 6 and 9 only.
ROWS = "id,text\n" + "".join(
    f"row-{n},text {n},extra\n" if n == 4 else f"row-{n},text {n}\n" for n in range(2, 32)
)


def _bar_colour(page) -> str:
    # bulkyard.css gives the bar's colour (its value's, in Chromium) by outcome.
    return str(page.eval_on_selector("[data-job-bar]", "bar => getComputedStyle(bar).color"))


def test_a_job_with_failures_shows_its_report_live_and_its_retry_fails_in_red(page, asgi_server):
    from playwright.sync_api import expect

    violations = CspViolations(page)
    user = UserFactory()
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    job = httpx.post(
        f"{asgi_server}/api/v1/jobs/",
        headers=headers,
        # Slow enough (3 chunks of 10 items, 0.3 s each) that the pause
        # below lands while a chunk is still waiting, however fast the worker.
        data={
            "kind": "test.echo",
            "params": json.dumps({"fail_items": [6, 9], "sleep_per_item": 0.3}),
        },
        files={"file": ("rows.csv", ROWS.encode())},
        timeout=30,
    ).json()
    # Held until the page is open: the report must come in live, not with the page.
    paused = httpx.post(
        f"{asgi_server}/api/v1/jobs/{job['id']}/pause/", headers=headers, timeout=30
    )
    assert paused.status_code == 200, paused.text

    log_in(page, asgi_server, user, path=f"/jobs/{job['id']}/")
    expect(page.locator("[data-job-ws]")).to_have_attribute("data-connection", "live")
    expect(page.locator("#timings")).to_be_visible()
    expect(page.locator("#report")).to_have_count(0)
    page.click("#resume")

    report = page.locator("#report")
    expect(report).to_be_visible(timeout=30_000)
    expect(page.locator('[data-job-field="status"]')).to_have_class(
        "by-badge by-status-completed_with_errors"
    )
    assert _bar_colour(page) == AMBER
    codes = page.locator("#failures-by-code tbody tr")
    expect(codes).to_have_count(2)
    expect(codes.nth(0)).to_contain_text("requested_failure")
    expect(codes.nth(1)).to_contain_text("wrong_field_count")
    rows = page.locator("#failed-items tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("4")
    expect(rows.nth(1)).to_contain_text("id: row-6")
    expect(page.locator("#output")).to_be_hidden()  # test.echo writes no output file
    page.screenshot(path=str(ARTIFACTS / "user-job-report.png"), full_page=True)

    page.click("#retry")
    page.wait_for_url(lambda url: job["id"] not in url)
    assert Job.objects.filter(retry_of_id=job["id"]).count() == 1
    # Both items fail again: every item of the retry failed, so it failed.
    expect(page.locator("[data-job-ws]")).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(page.locator("#report")).to_be_visible()
    expect(page.locator('[data-job-field="status"]')).to_have_class("by-badge by-status-failed")
    assert _bar_colour(page) == RED
    expect(page.locator("#failed-items tbody tr")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "user-job-failed.png"), full_page=True)

    page.goto(f"{asgi_server}/jobs/{uuid.uuid4()}/")
    expect(page.locator("#not-found")).to_contain_text("Not found")
    page.screenshot(path=str(ARTIFACTS / "user-not-found.png"), full_page=True)
    assert violations.all() == []
