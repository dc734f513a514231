"""The targets API: which targets a user may import into, export or email."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulkyard.core.openapi import error_responses
from bulkyard.targets.access import OPERATIONS
from bulkyard.targets.selectors import targets_for

# A raw schema: DRF serializers cannot declare fields named "fields" or "required".
TARGETS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "description", "key", "scoped", "fields", "operations"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "key": {"type": "string", "description": "The field imports upsert on."},
            "scoped": {
                "type": "boolean",
                "description": "True: each user has rows of their own, and reads and writes "
                "only them.",
            },
            "fields": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "type", "required"],
                    "properties": {
                        "name": {"type": "string"},
                        "type": {
                            "type": "string",
                            "description": "The model field's type, e.g. EmailField.",
                        },
                        "required": {"type": "boolean"},
                    },
                },
            },
            "operations": {
                "type": "array",
                "items": {"type": "string", "enum": list(OPERATIONS)},
                "description": "What you may do: data.import, data.export, email.send recipients.",
            },
        },
    },
}


class TargetListApi(APIView):
    @extend_schema(
        operation_id="targets_list",
        summary="The targets you may import into, export or email",
        description=(
            "Targets are the models `data.import`, `data.export` and `email.send` (recipients "
            "from a target) work on. Only the targets you hold a permission on are listed, "
            "with what you may do; a job on any other answers `403 target_forbidden`."
        ),
        responses={200: TARGETS_SCHEMA, **error_responses()},
        examples=[
            OpenApiExample(
                "Targets",
                response_only=True,
                value=[
                    {
                        "name": "contacts",
                        "description": "The example import target.",
                        "key": "email",
                        "scoped": True,
                        "fields": [{"name": "email", "type": "EmailField", "required": True}],
                        "operations": ["import", "export", "recipients"],
                    }
                ],
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(targets_for(request.user))
