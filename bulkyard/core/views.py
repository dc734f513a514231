from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulkyard.core.health import health_report


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="health",
        summary="Database, broker and worker reachability",
        description=(
            "`200` with status `ok` (all reachable) or `degraded` (no worker answered: jobs "
            "are accepted and wait); `503` with status `down` when the database or the broker "
            "is unreachable."
        ),
        responses={
            200: inline_serializer(
                "Health",
                {"status": serializers.CharField(), "checks": serializers.JSONField()},
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
        return Response(
            report, status=status.HTTP_200_OK if serving else status.HTTP_503_SERVICE_UNAVAILABLE
        )
