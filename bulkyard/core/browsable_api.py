"""DRF's browsable API (the API in a browser) under the Content-Security-Policy.

Its scripts are files and its one inline <script> is a JSON data block, which
browsers do not run; its logout link's onclick is replaced (the template). What
is left are a few fixed style="" attributes in DRF's templates: allowed by their
hashes ('unsafe-hashes'), on the browsable API's responses alone, so an injected
style attribute is still refused there and everywhere else.
"""

import base64
import hashlib
from typing import Any

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.http import HttpRequest, HttpResponseBase
from rest_framework import renderers

# Every literal style="" value of the DRF templates the browsable API renders
# (base.html, the form and filter templates; tests/core/test_browsable_api.py
# compares this with the installed DRF).
DRF_STYLE_ATTRIBUTES = (
    "float: right; margin-right: 10px",
    "float: right",
    "width: 350px",
    "border-bottom: 1px solid #e5e5e5",
    "border-bottom: 0",
)


def _sha256_source(value: str) -> str:
    digest = base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()
    return f"'sha256-{digest}'"


BROWSABLE_API_DIRECTIVES = {
    "style-src-attr": ["'unsafe-hashes'", *map(_sha256_source, DRF_STYLE_ATTRIBUTES)],
}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's, with a template that logs out through a plain form instead of an
    inline onclick, and leaves out the inline <style> of code highlighting
    (used only for Markdown descriptions, which need a package not installed)."""

    template = "bulkyard/browsable_api.html"


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware (its documented extension point), adding the
    browsable API's style hashes to the responses it renders."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        renderer: Any = getattr(response, "accepted_renderer", None)
        if isinstance(renderer, renderers.BrowsableAPIRenderer):
            parts.update = {**(parts.update or {}), **BROWSABLE_API_DIRECTIVES}
        return parts
