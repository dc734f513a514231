"""DRF's browsable API under the Content-Security-Policy
(bulkyard/core/browsable_api.py). In a real browser: tests/test_browser_csp.py."""

import re
from pathlib import Path

import pytest
import rest_framework

from bulkyard.core.browsable_api import BROWSABLE_API_DIRECTIVES, DRF_STYLE_ATTRIBUTES
from tests.support.csp import STRICT, policy_of

pytestmark = pytest.mark.django_db

DRF_TEMPLATES = Path(rest_framework.__file__).parent / "templates" / "rest_framework"
# Not rendered here: the AdminRenderer is not used, and the sign-in is the site's.
NOT_RENDERED = {"admin.html", "login_base.html"}


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def test_the_allowed_style_attributes_are_those_of_the_installed_drf_templates():
    found = {
        match
        for path in DRF_TEMPLATES.rglob("*.html")
        if path.name not in NOT_RENDERED
        for match in re.findall(r'\sstyle="([^"{]*)"', path.read_text())
    }

    assert found == set(DRF_STYLE_ATTRIBUTES)


def test_browsable_api_pages_allow_drf_style_attributes_by_hash_only(browser_client):
    response = browser_client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html")

    policy = policy_of(response["Content-Security-Policy"])
    assert response["Content-Type"].startswith("text/html")
    assert policy == {**STRICT, **BROWSABLE_API_DIRECTIVES}
    assert policy["style-src-attr"][0] == "'unsafe-hashes'"
    assert all(s.startswith("'sha256-") for s in policy["style-src-attr"][1:])


def test_json_responses_get_the_strict_policy(browser_client):
    response = browser_client.get("/api/v1/jobs/", HTTP_ACCEPT="application/json")

    assert policy_of(response["Content-Security-Policy"]) == STRICT


def test_the_browsable_api_logs_out_through_a_form_not_an_inline_handler(browser_client):
    page = browser_client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html").content.decode()

    assert '<form class="by-logout" method="post" action="/api-auth/logout/' in page
    assert "onclick" not in page
    assert "<style" not in page


def test_the_browsable_api_signs_in_on_the_site_login_page(client):
    page = client.get("/api-auth/login/?next=/api/v1/jobs/").content.decode()

    assert '<div class="card narrow">' in page
    assert 'name="next" value="/api/v1/jobs/"' in page
