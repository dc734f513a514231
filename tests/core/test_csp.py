"""The Content-Security-Policy (config/settings/csp.py): the header every page
carries, what it allows, and what an operator may change through the
environment. In a real browser: tests/test_browser_csp.py."""

import importlib
import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import config.settings.csp
from tests.factories import UserFactory
from tests.support.csp import STRICT, policy_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "/accounts/login/",
    "/jobs/",
    "/jobs/new/",
    "/admin/",
    "/admin/bulkyard_jobs/job/",
    "/api/docs/",
    "/api/v1/jobs/",  # JSON: the browsable API's HTML is in test_browsable_api.py
]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def reload_csp_settings(monkeypatch):
    """Loads config/settings/csp.py again under the environment a test sets,
    and as it was afterwards."""

    def load(**environment: str):
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(config.settings.csp)

    yield load
    monkeypatch.undo()
    importlib.reload(config.settings.csp)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_served_under_the_strictpolicy_of(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 200
    assert policy_of(response["Content-Security-Policy"]) == STRICT


def test_report_only_mode_sends_the_policy_to_be_reported_not_enforced(client, reload_csp_settings):
    csp = reload_csp_settings(BULKYARD_CSP_REPORT_ONLY="true")

    with override_settings(
        CONTENT_SECURITY_POLICY=csp.CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY_REPORT_ONLY=csp.CONTENT_SECURITY_POLICY_REPORT_ONLY,
    ):
        response = client.get("/accounts/login/")

    assert "Content-Security-Policy" not in response
    assert policy_of(response["Content-Security-Policy-Report-Only"]) == STRICT


def test_a_report_uri_is_sent_when_set(client, reload_csp_settings):
    csp = reload_csp_settings(BULKYARD_CSP_REPORT_URI="https://reports.example.com/csp")

    with override_settings(CONTENT_SECURITY_POLICY=csp.CONTENT_SECURITY_POLICY):
        response = client.get("/accounts/login/")

    policy = policy_of(response["Content-Security-Policy"])
    assert policy == {**STRICT, "report-uri": ["https://reports.example.com/csp"]}


def test_extra_sources_are_added_to_their_directives(reload_csp_settings):
    csp = reload_csp_settings(
        BULKYARD_CSP_EXTRA_SOURCES=(
            '{"img-src": ["https://cdn.example.com"], "frame-src": ["https://video.example.com"]}'
        )
    )

    directives = csp.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["img-src"] == ["'self'", "data:", "https://cdn.example.com"]
    assert directives["frame-src"] == ["https://video.example.com"]
    assert directives["script-src"] == ["'self'"]


@pytest.mark.parametrize(
    "extra",
    [
        '{"script-src-typo": ["https://cdn.example.com"]}',
        '{"img-src": "https://cdn.example.com"}',
        '["img-src"]',
    ],
    ids=["unknown-directive", "not-a-list", "not-an-object"],
)
def test_extra_sources_that_make_no_sense_stop_the_start(reload_csp_settings, extra):
    with pytest.raises(ImproperlyConfigured, match="BULKYARD_CSP_EXTRA_SOURCES"):
        reload_csp_settings(BULKYARD_CSP_EXTRA_SOURCES=extra)


# What the policy refuses, as a template or an admin's format_html() would
# write it: inline script (a JSON data block is not run, so allowed), event
# handler attributes, javascript: URLs, <style> elements, style="" attributes.
_IN_MARKUP = [
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>",
    r"<style[\s>]",
    r"\sstyle\s*=\s*[\"'{]",
]
_IN_TEMPLATES = re.compile("|".join([*_IN_MARKUP, r"\son[a-z]+\s*=\s*[\"']", "javascript:"]))
_IN_PYTHON = re.compile("|".join(_IN_MARKUP))


def test_no_template_or_admin_markup_holds_what_the_policy_refuses():
    templates = list(ROOT.glob("bulkyard/**/templates/**/*.html"))
    admins = list(ROOT.glob("bulkyard/**/admin.py"))

    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for paths, pattern in ((templates, _IN_TEMPLATES), (admins, _IN_PYTHON))
        for path in paths
        for match in pattern.finditer(path.read_text())
    ]

    assert templates
    assert admins
    assert found == []
