"""The Content-Security-Policy in a real browser (headless Debian Chromium):
the user's pages, the admin, Swagger UI and ReDoc do all they did before, and
the browser reports no violation of the policy while they do; a script
injected into a page is refused."""

import re

import httpx
import pytest
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.support.browser import ARTIFACTS, CspViolations, log_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def violations(page) -> CspViolations:
    return CspViolations(page)


def test_a_script_injected_into_a_page_is_refused(page, violations, asgi_server):
    page.goto(f"{asgi_server}/accounts/login/")

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__injected = true;";
            document.body.append(script);
        }"""
    )

    assert page.evaluate("window.__injected") is None
    assert [v["directive"] for v in violations.all() if isinstance(v, dict)] == ["script-src-elem"]


def test_a_user_signs_in_uploads_and_follows_a_job_with_no_violation(
    page, violations, asgi_server, tmp_path
):
    from playwright.sync_api import expect

    upload = tmp_path / "documents.csv"
    upload.write_text("id,text\n" + "".join(f"{n},document {n}\n" for n in range(60)))

    log_in(page, asgi_server, UserFactory(), path="/jobs/new/")
    expect(page).to_have_url(f"{asgi_server}/jobs/new/")
    page.select_option("#id_kind", "test.echo")
    page.fill("#id_params", '{"sleep_per_item": 0.02, "fail_items": [5]}')
    page.set_input_files("#id_file", str(upload))
    page.click("#new-job button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"))
    # The live panel follows the job over its WebSocket (connect-src 'self').
    expect(page.locator("[data-job-ws]")).to_have_attribute("data-connection", "live")
    expect(page.locator('[data-job-field="status"]').first).to_have_text("completed with errors")
    expect(page.locator("[data-job-bar]")).to_have_js_property("value", 100)
    expect(page.locator("#cancel")).to_be_hidden()
    page.goto(f"{asgi_server}/jobs/")
    page.screenshot(path=str(ARTIFACTS / "csp-user-job-list.png"), full_page=True)

    assert violations.all() == []


def test_staff_use_the_admin_with_no_violation(page, violations, asgi_server):
    from playwright.sync_api import expect

    owner = UserFactory()
    token = Token.objects.create(user=owner).key
    job = httpx.post(
        f"{asgi_server}/api/v1/jobs/",
        headers={"Authorization": f"Token {token}"},
        json={"kind": "test.echo", "items": [{"n": n} for n in range(40)]},
        timeout=30,
    ).json()

    staff = UserFactory(is_staff=True, is_superuser=True)
    log_in(page, asgi_server, staff, path="/admin/login/?next=/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{asgi_server}/admin/bulkyard_jobs/job/")
    expect(page.locator("#result_list")).to_contain_text(job["id"][:8])
    expect(page.locator("#result_list .by-badge").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "csp-admin-job-list.png"), full_page=True)
    page.goto(f"{asgi_server}/admin/bulkyard_jobs/job/{job['id']}/change/")
    expect(page.locator(".by-connection")).to_have_text("finished")
    expect(page.locator("[data-job-bar]")).to_have_js_property("value", 100)
    page.screenshot(path=str(ARTIFACTS / "csp-admin-job-page.png"), full_page=True)

    assert violations.all() == []


def test_swagger_ui_shows_the_operations_with_no_violation(page, violations, asgi_server):
    from playwright.sync_api import expect

    page.goto(f"{asgi_server}/api/docs/")
    operation = page.locator("#operations-api-jobs_create")
    expect(operation).to_contain_text("POST")
    expect(operation).to_contain_text("/api/v1/jobs/")
    operation.locator(".opblock-summary").click()
    expect(operation.locator(".opblock-body")).to_contain_text("Idempotency-Key")
    page.screenshot(path=str(ARTIFACTS / "csp-swagger-ui.png"), full_page=False)

    assert violations.all() == []


def test_redoc_renders_and_searches_the_schema_with_no_violation(page, violations, asgi_server):
    from playwright.sync_api import expect

    page.goto(f"{asgi_server}/api/redoc/")
    expect(page.locator("h1")).to_contain_text("Bulkyard API")
    expect(page.locator("h2", has_text="Submit a bulk job")).to_be_visible()
    # The search index lives in a worker made from a blob: URL (worker-src).
    page.get_by_role("textbox", name="Search").fill("retry")
    expect(page.locator('[data-role="search:results"]')).to_contain_text("Retry")
    page.screenshot(path=str(ARTIFACTS / "csp-redoc.png"), full_page=False)

    # ReDoc's sidebar credits Redocly with a logo from Redocly's CDN: refused,
    # as anything from another origin; ReDoc then leaves the image out.
    assert [v for v in violations.all() if REDOCLY_LOGO not in str(v)] == []


def test_the_browsable_api_signs_in_filters_and_logs_out_with_no_violation(
    page, violations, asgi_server
):
    from playwright.sync_api import expect

    user = UserFactory()
    log_in(page, asgi_server, user, path="/api-auth/login/?next=/api/v1/jobs/")
    expect(page).to_have_url(f"{asgi_server}/api/v1/jobs/")
    expect(page.locator(".response-info")).to_contain_text('"count": 0')
    # The page's scripts (jQuery, Bootstrap) come last in it: a click before
    # they have run would open nothing.
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Filters").click()  # Bootstrap's modal, from its file
    expect(page.locator("#filtersModal")).to_be_visible()
    page.locator("#filtersModal .close").click()
    expect(page.locator("#filtersModal")).to_be_hidden()
    page.locator(".navbar .dropdown-toggle").click()
    page.get_by_role("button", name="Log out").click()

    expect(page.locator(".navbar")).to_contain_text("Log in")
    assert violations.all() == []
