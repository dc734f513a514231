from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulkyard.core.openapi import error_responses
from bulkyard.users.tickets import ws_ticket_issue


class WsTicketApi(APIView):
    @extend_schema(
        operation_id="ws_ticket_create",
        summary="Get a one-time ticket for a WebSocket connection",
        description=(
            "Exchange your API token for a ticket that authenticates one WebSocket "
            "connection, e.g. `wss://host/ws/jobs/{id}/?ticket=…`, within `expires_in` "
            "seconds. Keeps the long-lived token out of URLs."
        ),
        request=None,
        responses={
            201: inline_serializer(
                "WsTicket",
                {"ticket": serializers.CharField(), "expires_in": serializers.IntegerField()},
            ),
            **error_responses(),
        },
        examples=[
            OpenApiExample(
                "A ticket",
                response_only=True,
                status_codes=["201"],
                value={"ticket": "eyJ1IjoxLCJuIjoiLi4uIn0:1v9k2a:Qm9v...", "expires_in": 60},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        ticket = ws_ticket_issue(user=request.user)  # type: ignore[arg-type]
        return Response(
            {"ticket": ticket, "expires_in": settings.BULKYARD_WS_TICKET_SECONDS},
            status=status.HTTP_201_CREATED,
        )
