"""The new-job page in a real browser (headless Debian Chromium) against the
running ASGI server: fields made from the kind's schema, the dry-run preview
of an import, and the file kept through a refused submission. Screenshots go
to test-artifacts/."""

import re

import pytest

from bulkyard.jobs.models import Job
from tests.factories import UserFactory
from tests.support.browser import ARTIFACTS, CspViolations, log_in
from tests.support.jobs import may_use_contacts

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTACTS = "email,name,age\nada@example.com,Ada,36\nnot an address,Bob,40\ncy@example.com,Cy,29\n"


def test_a_user_previews_an_import_fixes_a_param_and_starts_it_with_the_kept_file(
    page, asgi_server, tmp_path
):
    from playwright.sync_api import expect

    violations = CspViolations(page)
    user = UserFactory()
    may_use_contacts(user)
    upload = tmp_path / "contacts.csv"
    upload.write_text(CONTACTS)

    log_in(page, asgi_server, user, path="/jobs/new/")
    # An export finds its own rows: no file to choose.
    page.select_option("#id_kind", "data.export")
    expect(page.locator('[data-field="file"]')).to_be_hidden()
    page.select_option("#id_kind", "data.import")
    expect(page.locator('[data-field="file"]')).to_be_visible()
    panel = page.locator('fieldset[data-kind="data.import"]')
    expect(panel).to_be_visible()
    expect(page.locator('fieldset[data-kind="text.stats"]')).to_be_hidden()
    expect(panel.locator('[data-columns-value="contacts"]')).to_contain_text("email *")
    panel.get_by_role("button", name="Example").click()
    expect(page.locator("#param-data-import-mode")).to_have_value("upsert")
    page.set_input_files("#id_file", str(upload))

    page.click("#preview-button")
    bad = page.locator('#preview tr.invalid[data-line="3"]')
    expect(bad).to_contain_text("line 3, column 'email'")
    expect(page.locator("#preview tr.valid")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "job-form-preview.png"), full_page=True)

    page.fill("#param-data-import-mapping", "{not json")
    page.click("#new-job button[type=submit]")
    expect(page.locator(".param-error")).to_contain_text("not valid JSON")
    expect(page.locator("#kept-file")).to_contain_text("contacts.csv")
    expect(page.locator("#id_kind")).to_have_value("data.import")
    page.screenshot(path=str(ARTIFACTS / "job-form-kept-file.png"), full_page=True)

    page.fill("#param-data-import-mapping", "")
    page.click("#new-job button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"))
    job = Job.objects.get(owner=user)
    assert job.kind == "data.import"
    assert job.input_name == "contacts.csv"
    assert violations.all() == []
