"""Swagger UI and ReDoc as the Content-Security-Policy allows them: no inline
script or style, nothing from another origin (docs/security.md)."""

from csp.constants import NONCE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class SwaggerUiView(SpectacularSwaggerSplitView):
    """drf-spectacular's split view serves Swagger UI's start-up script at its
    own URL (``?script``) instead of inline; the page's inline <style> moves to
    a static file (the template)."""

    template_name = "bulkyard/api_docs/swagger_ui.html"


@method_decorator(csp_update({"style-src": [NONCE]}), name="dispatch")
class RedocView(SpectacularRedocView):
    """ReDoc styles itself with <style> elements it makes at run time: the
    start-up script (bulkyard/redoc-init.js) gives them this response's nonce,
    so only this page's header has one, and only in style-src. Its fonts are
    the system's, not fetched from a font CDN."""

    template_name = "bulkyard/api_docs/redoc.html"
