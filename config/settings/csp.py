"""Content-Security-Policy (django-csp): what a browser may load and run on every
page we serve, so markup injected into a page (a job's name, an error message)
cannot run script, load foreign resources or send a form elsewhere.

Strict on purpose: nothing inline, no other origin. The pages, the admin and the
API docs are built to need nothing more (docs/security.md, "Content-Security-Policy").
"""

from csp.constants import NONE, SELF
from csp.utils import DEFAULT_DIRECTIVES
from django.core.exceptions import ImproperlyConfigured

from config.env import env

# Only the settings: base.py imports this module with *, and every upper-case
# name would become a setting (csp.constants' SELF, NONE...).
__all__ = ["CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"]

_DIRECTIVES: dict[str, list[str]] = {
    "default-src": [SELF],
    "script-src": [SELF],
    # A view that must inject <style> elements (ReDoc) adds its nonce per response.
    "style-src": [SELF],
    # Swagger UI and ReDoc draw their icons as data: URLs in their CSS.
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    # 'self' covers the job pages' ws:// and wss:// to the same host (CSP Level 3).
    "connect-src": [SELF],
    # ReDoc runs its search index in a worker made from a blob: URL.
    "worker-src": [SELF, "blob:"],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}


def _with_extra_sources(directives: dict[str, list[str]], extra: object) -> dict[str, list[str]]:
    """``directives`` with more sources, e.g. {"img-src": ["https://cdn.example.com"]}:
    an operator's way to allow something without changing the code."""
    if not isinstance(extra, dict):
        raise ImproperlyConfigured("BULKYARD_CSP_EXTRA_SOURCES must be a JSON object")
    combined = dict(directives)
    for directive, sources in extra.items():
        if directive not in DEFAULT_DIRECTIVES:
            raise ImproperlyConfigured(
                f"BULKYARD_CSP_EXTRA_SOURCES: {directive!r} is no CSP directive"
            )
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise ImproperlyConfigured(
                f"BULKYARD_CSP_EXTRA_SOURCES[{directive!r}] must be a list of strings"
            )
        combined[directive] = [*combined.get(directive, []), *sources]
    return combined


_DIRECTIVES = _with_extra_sources(_DIRECTIVES, env.json("BULKYARD_CSP_EXTRA_SOURCES", default={}))
_report_uri = env.str("BULKYARD_CSP_REPORT_URI", default="")
_policy = {"DIRECTIVES": {**_DIRECTIVES, "report-uri": _report_uri or None}}

# Report-only: browsers block nothing and report what they would have blocked,
# for trying a stricter or changed policy on real traffic first.
_report_only = env.bool("BULKYARD_CSP_REPORT_ONLY", default=False)
CONTENT_SECURITY_POLICY = None if _report_only else _policy
CONTENT_SECURITY_POLICY_REPORT_ONLY = _policy if _report_only else None
