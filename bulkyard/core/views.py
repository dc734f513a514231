import sys
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views import defaults
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulkyard.core.client_ip import client_address
from bulkyard.core.health import health_report, public_view, staff_view
from bulkyard.core.metrics_endpoint import address_allowed, exposition, token_matches
from bulkyard.core.outages import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, is_outage


class HealthApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="health",
        summary="Database, broker and worker reachability",
        description=(
            "`200` with status `ok` (all reachable) or `degraded` (no worker answered: jobs "
            "are accepted and wait); `503` with status `down` when the database or the broker "
            "is unreachable. Anyone sees the states; staff also see latencies, worker names "
            "and errors, and `mail_server`: `reachable`, `unreachable` or `not_used` (a mail "
            "backend without a server), which leaves the status as it is. Reports are reused "
            "for 5 seconds (the mail server's for 10)."
        ),
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.JSONField(),
                    "mail_server": serializers.ChoiceField(
                        choices=["reachable", "unreachable", "not_used"], required=False
                    ),
                },
            ),
            503: inline_serializer(
                "HealthDown",
                {"status": serializers.CharField(), "checks": serializers.JSONField()},
            ),
        },
        examples=[
            OpenApiExample(
                "Healthy",
                response_only=True,
                status_codes=["200"],
                value={
                    "status": "ok",
                    "checks": {
                        "database": {"ok": True, "vendor": "postgresql", "latency_ms": 0.9},
                        "broker": {"ok": True, "transport": "redis", "latency_ms": 0.5},
                        "workers": {
                            "ok": True,
                            "count": 1,
                            "names": ["worker@host"],
                            "latency_ms": 1003.2,
                        },
                    },
                    "mail_server": "reachable",
                },
            ),
            OpenApiExample(
                "Broker down",
                response_only=True,
                status_codes=["503"],
                value={
                    "status": "down",
                    "checks": {
                        "database": {"ok": True, "vendor": "postgresql", "latency_ms": 0.9},
                        "broker": {
                            "ok": False,
                            "error": "OperationalError: Error 111 connecting to redis:6379.",
                            "latency_ms": 2.1,
                        },
                        "workers": {"ok": False},
                    },
                },
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        serving, report = health_report()
        report = staff_view(report) if request.user.is_staff else public_view(report)
        return Response(
            report, status=status.HTTP_200_OK if serving else status.HTTP_503_SERVICE_UNAVAILABLE
        )


class CanReadMetrics(BasePermission):
    """Staff, the scraper's bearer token, or an allowed network."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if token_matches(request.META.get("HTTP_AUTHORIZATION", "")):
            return True
        if address_allowed(client_address(request._request)):
            return True
        return bool(request.user and request.user.is_staff)


class _FirstRenderer(BaseContentNegotiation):
    """Errors are JSON whatever a scraper accepts (its ``Accept`` names the
    text formats only, which DRF would refuse with 406)."""

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class MetricsApi(APIView):
    permission_classes = [CanReadMetrics]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer
    # A throttled scrape is a gap in every graph; reading is cached anyway.
    throttle_classes: list[Any] = []

    def get_authenticators(self) -> list[Any]:
        # The scraper's token is no user's: looking it up among API tokens
        # would cost a query per scrape and, with PostgreSQL away, turn the
        # scrape that reports the outage into a 503.
        request = getattr(self, "request", None)  # None while the schema is built
        if request is not None and token_matches(request.META.get("HTTP_AUTHORIZATION", "")):
            return []
        return super().get_authenticators()

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        body, content_type = exposition(request.META.get("HTTP_ACCEPT"))
        return HttpResponse(body, content_type=content_type)


def _api_error(request: HttpRequest, code: str, message: str, status_code: int) -> JsonResponse:
    body = {"error": {"code": code, "message": message, "details": None}}
    return JsonResponse(body, status=status_code)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the API's JSON error shape for unknown URLs too."""
    if request.path.startswith("/api/"):
        return _api_error(request, "not_found", "No such endpoint.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 when what failed is a service that is away (the database,
    Redis): pages and the admin, which the API's exception handler does not see."""
    error = sys.exc_info()[1]
    if error is not None and is_outage(error):
        if request.path.startswith("/api/"):
            response: HttpResponse = _api_error(
                request, "service_unavailable", UNAVAILABLE_MESSAGE, 503
            )
        else:
            response = HttpResponse(UNAVAILABLE_MESSAGE, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith("/api/"):
        return _api_error(request, "server_error", "An unexpected error occurred.", 500)
    return defaults.server_error(request)


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says (the admin's and
    the API docs' pages name none): the site's icon, not a 404 on each page."""
    return HttpResponseRedirect(static("bulkyard/favicon.svg"))
