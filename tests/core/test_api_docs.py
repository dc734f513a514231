"""Swagger UI and ReDoc under the Content-Security-Policy (bulkyard/core/api_docs.py):
nothing inline but ReDoc's styles, admitted by a nonce of their response alone.
In a real browser: tests/test_browser_csp.py."""

import re

import pytest

from tests.support.csp import STRICT, policy_of

pytestmark = pytest.mark.django_db


def test_redoc_alone_adds_a_nonce_for_its_styles_and_gives_it_to_its_start_up_script(client):
    response = client.get("/api/redoc/")

    policy = policy_of(response["Content-Security-Policy"])
    nonce = policy["style-src"][1]
    assert policy == {**STRICT, "style-src": ["'self'", nonce]}
    assert re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{24}'", nonce)
    assert f'nonce="{nonce[7:-1]}"' in response.content.decode()


def test_the_nonce_is_new_for_every_response(client):
    first = policy_of(client.get("/api/redoc/")["Content-Security-Policy"])["style-src"]
    second = policy_of(client.get("/api/redoc/")["Content-Security-Policy"])["style-src"]

    assert first != second


def test_swagger_ui_loads_its_start_up_script_from_its_own_url(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert '<script src="/api/docs/?script="></script>' in page
    assert "<script>" not in page
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_redoc_fetches_no_fonts_from_another_origin(client):
    page = client.get("/api/redoc/").content.decode()

    assert "https://" not in page
