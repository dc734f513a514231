"""A person in a real browser: headless Debian Chromium driven by Playwright,
against the running ASGI server and a real worker. Screenshots are kept in
test-artifacts/."""

import re
from pathlib import Path

import httpx
import pytest
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.support.browser import ARTIFACTS, log_in
from tests.support.jobs import may_use_contacts

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_user_uploads_a_file_watches_it_finish_and_downloads_results(page, asgi_server, tmp_path):
    from playwright.sync_api import expect

    user = UserFactory()
    rows = "id,text\n" + "".join(f"{n},document {n}\n" for n in range(150))
    upload = tmp_path / "documents.csv"
    upload.write_text(rows)

    log_in(page, asgi_server, user, path="/jobs/new/")
    expect(page).to_have_url(f"{asgi_server}/jobs/new/")
    page.select_option("#id_kind", "test.echo")
    page.fill("#id_params", '{"sleep_per_item": 0.02, "fail_items": [5]}')
    page.set_input_files("#id_file", str(upload))
    page.click("#new-job button[type=submit]")

    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"))
    live = page.locator("[data-job-ws]")
    expect(live).to_have_attribute("data-connection", "live")
    expect(page.locator('[data-job-field="percent"]').first).to_have_text("100.0%")
    expect(page.locator('[data-job-field="status"]').first).to_have_text("completed with errors")
    expect(page.locator('[data-job-field="failed_items"]').first).to_have_text("1")
    expect(page.locator("#cancel")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "user-job-page.png"), full_page=True)

    with page.expect_download() as download:
        page.click("text=All results (CSV)")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == 151
    assert lines[0].startswith("item,outcome")
    assert "5,failed,requested_failure" in "\n".join(lines)


def test_staff_watch_a_running_job_live_in_the_admin(page, asgi_server):
    from playwright.sync_api import expect

    staff = UserFactory(is_staff=True, is_superuser=True)
    owner = UserFactory()
    token = Token.objects.create(user=owner).key
    job = httpx.post(
        f"{asgi_server}/api/v1/jobs/",
        headers={"Authorization": f"Token {token}"},
        json={
            "kind": "test.echo",
            "items": [{"n": n} for n in range(200)],
            "params": {"sleep_per_item": 0.03, "fail_items": [3, 4]},
        },
        timeout=30,
    ).json()

    log_in(page, asgi_server, staff, path="/admin/login/?next=/admin/bulkyard_jobs/job/")
    page.goto(f"{asgi_server}/admin/bulkyard_jobs/job/")
    expect(page.locator("#result_list")).to_contain_text(job["id"][:8])
    page.screenshot(path=str(ARTIFACTS / "admin-job-list.png"), full_page=True)

    page.goto(f"{asgi_server}/admin/bulkyard_jobs/job/{job['id']}/change/")
    percent = page.locator('[data-job-field="percent"]').first
    first_seen = percent.inner_text()
    expect(page.locator("[data-job-ws]")).to_have_attribute("data-connection", "live")
    expect(percent).to_have_text("100.0%")
    expect(page.locator('[data-job-field="failed_items"]').first).to_have_text("2")
    expect(page.locator(".by-connection")).to_have_text("finished")
    page.screenshot(path=str(ARTIFACTS / "admin-job-page.png"), full_page=True)

    assert first_seen != "100.0%"  # the page changed live, without a reload
    page.reload()
    expect(page.locator("#failures")).to_contain_text("requested_failure")
    with page.expect_download() as download:
        page.click("text=Failed items (CSV)")
    lines = Path(download.value.path()).read_text().splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["3", "failed", "requested_failure"],
        ["4", "failed", "requested_failure"],
    ]


def test_a_user_exports_contacts_and_downloads_the_file_when_it_appears(page, asgi_server):
    from playwright.sync_api import expect

    from tests.factories import ContactFactory

    user = UserFactory()
    may_use_contacts(user)
    ContactFactory.create_batch(40, owner=user, city="Oslo")
    ContactFactory.create_batch(5, owner=user, city="Rome")

    log_in(page, asgi_server, user, path="/jobs/new/")
    page.select_option("#id_kind", "data.export")
    page.fill("#id_params", '{"target": "contacts", "filter": {"city": "Oslo"}}')
    page.fill("#id_chunk_size", "10")
    page.click("#new-job button[type=submit]")

    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"))
    expect(page.locator('[data-job-field="status"]').first).to_have_text("succeeded")
    output = page.locator("#output")
    expect(output).to_be_visible()
    with page.expect_download() as download:
        output.click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "email,name,age,city,amount"
    assert len(lines) == 41
    assert {line.split(",")[3] for line in lines[1:]} == {"Oslo"}


def test_the_job_page_follows_a_job_from_the_api_while_its_websocket_is_down(page, asgi_server):
    from playwright.sync_api import WebSocketRoute, expect

    def refuse(socket: WebSocketRoute) -> None:
        # As the server answers while the channel layer's Redis is away.
        socket.close(code=1011, reason="channel layer unavailable")

    page.route_web_socket(re.compile(r".*/ws/jobs/.*"), refuse)
    user = UserFactory()
    token = Token.objects.create(user=user).key
    job = httpx.post(
        f"{asgi_server}/api/v1/jobs/",
        headers={"Authorization": f"Token {token}"},
        json={
            "kind": "test.echo",
            "items": [{"n": n} for n in range(120)],
            "params": {"sleep_per_item": 0.03, "fail_items": [7]},
        },
        timeout=30,
    ).json()

    log_in(page, asgi_server, user, path=f"/jobs/{job['id']}/")
    live = page.locator("[data-job-ws]")
    expect(live).to_have_attribute("data-connection", "polling")
    expect(page.locator(".by-connection")).to_contain_text("updated every few seconds")
    expect(page.locator('[data-job-field="status"]').first).to_have_text("completed with errors")
    expect(live).to_have_attribute("data-connection", "finished")
    expect(page.locator('[data-job-field="failed_items"]').first).to_have_text("1")
    expect(page.locator("#cancel")).to_be_hidden()


def test_the_job_pages_pause_and_resume_buttons_follow_the_status_live(page, asgi_server):
    from playwright.sync_api import expect

    user = UserFactory()
    token = Token.objects.create(user=user).key
    api = httpx.Client(
        base_url=asgi_server, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    items = [{"n": n} for n in range(60)]
    job = api.post(
        "/api/v1/jobs/",
        json={"kind": "test.echo", "items": items, "params": {"sleep_per_item": 0.1}},
    ).json()
    controls = f"/api/v1/jobs/{job['id']}"
    api.post(f"{controls}/pause/")
    pause, resume = page.locator("#pause"), page.locator("#resume")

    log_in(page, asgi_server, user, path=f"/jobs/{job['id']}/")
    expect(page.locator("[data-job-ws]")).to_have_attribute("data-connection", "live")
    expect(resume).to_be_visible()
    # Paused and resumed elsewhere (the API, another tab): the page follows.
    api.post(f"{controls}/resume/")
    expect(pause).to_be_visible()
    expect(resume).to_be_hidden()
    api.post(f"{controls}/pause/")
    expect(resume).to_be_visible()
    expect(pause).to_be_hidden()
    resume.click()
    expect(page.locator('[data-job-field="status"]').first).to_have_text("succeeded")
    expect(pause).to_be_hidden()
    api.close()
