"""The OpenAPI schema as served, and Swagger UI and ReDoc as the
Content-Security-Policy allows them: no inline script or style, nothing from
another origin (docs/security.md)."""

from collections.abc import Iterable
from typing import Any

from csp.constants import NONCE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# The server a schema made without a request names (``manage.py spectacular``):
# bin/run's address. Tools that import the schema make it their base URL.
DEFAULT_SERVER = "http://127.0.0.1:8000"


def add_servers(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """A drf-spectacular post-processing hook: the schema names the server that
    served it. Without ``servers`` the base URL is ``/``, which Postman, code
    generators and clients reading the file from disk cannot call."""
    url = request.build_absolute_uri("/").rstrip("/") if request is not None else DEFAULT_SERVER
    result["servers"] = [{"url": url, "description": "This Bulkyard server"}]
    return result


class FormatParameterNegotiation(DefaultContentNegotiation):
    """``?format=json`` or ``?format=yaml`` chooses the renderer, as the
    ``Accept`` header does. DRF's own ``format`` override is off for the whole
    API (``URL_FORMAT_OVERRIDE``), because results read ``format`` as theirs."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        chosen = format_suffix or request.query_params.get("format")
        return super().select_renderer(request, renderers, chosen)


class SchemaView(SpectacularAPIView):
    """The schema, YAML by default, JSON with ``?format=json`` or an ``Accept``
    of ``application/json``."""

    content_negotiation_class = FormatParameterNegotiation


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
