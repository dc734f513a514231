"""The dry-run preview's request and answer (``POST /api/v1/jobs/preview/``)
and its OpenAPI description: the request is the job-creation body plus
``rows``."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers

from bulkyard.core.openapi import error_responses
from bulkyard.jobs.api.examples import ERROR_EXAMPLE
from bulkyard.jobs.api.schema import JOB_UPLOAD
from bulkyard.jobs.api.serializers import JobCreateInputSerializer
from bulkyard.jobs.previews import Preview
from bulkyard.jobs.services import PREVIEW_ROWS_DEFAULT, PREVIEW_ROWS_MAX

ROWS_HELP = "How many of the input's first rows to judge."


def _rows_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1, max_value=PREVIEW_ROWS_MAX, default=PREVIEW_ROWS_DEFAULT, help_text=ROWS_HELP
    )


class JobPreviewInputSerializer(JobCreateInputSerializer):
    rows = _rows_field()


class PreviewErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


class PreviewRowSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(
        source="number",
        help_text="The line the row starts on in the file (a ZIP: the file's position).",
    )
    values = serializers.JSONField(help_text="The row as read from the file.")
    valid = serializers.BooleanField(help_text="Whether the real run would take the row.")
    # A field named like Serializer.errors, which the stubs type as a property.
    errors = PreviewErrorSerializer(many=True)  # type: ignore[assignment]


class PreviewSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    columns = serializers.ListField(
        child=serializers.CharField(), help_text="The fields the rows go into."
    )
    rows = PreviewRowSerializer(many=True)
    invalid_rows = serializers.IntegerField(help_text="Rows among these the real run would fail.")


def preview_data(*, kind: str, preview: Preview) -> dict[str, Any]:
    return dict(
        PreviewSerializer(
            {
                "kind": kind,
                "columns": preview.columns,
                "rows": preview.rows,
                "invalid_rows": preview.invalid_rows,
            }
        ).data
    )


PREVIEW_UPLOAD = inline_serializer("JobPreviewUpload", {**JOB_UPLOAD.fields, "rows": _rows_field()})

jobs_preview = extend_schema(
    operation_id="jobs_preview",
    summary="Dry-run the first rows of a job before submitting it",
    description=(
        "Takes the same body as `POST /api/v1/jobs/` and `rows` (1 to "
        f"{PREVIEW_ROWS_MAX}, default {PREVIEW_ROWS_DEFAULT}). The request is validated as "
        "a submission is (the same `400` and `403` errors); then the first rows of the "
        "input are judged as the real run would judge them, each with its line and its "
        "errors. Nothing is stored and no quota is spent, but the call counts against "
        "the job-creation rate limit. Kinds without a preview (see `offers_preview` in "
        "`GET /api/v1/kinds/`) answer `400 preview_not_offered`; today `data.import` "
        "offers one."
    ),
    request={
        "multipart/form-data": PREVIEW_UPLOAD,
        "application/json": JobPreviewInputSerializer,
    },
    responses={200: PreviewSerializer, **error_responses(400, 403, 413)},
    examples=[
        OpenApiExample(
            "An import's first rows",
            request_only=True,
            media_type="application/json",
            value={
                "kind": "data.import",
                "params": {"target": "contacts"},
                "items": [
                    {"email": "ada@example.com", "name": "Ada", "age": "36"},
                    {"email": "not an address", "name": "Bob", "age": "old"},
                ],
                "rows": 20,
            },
        ),
        OpenApiExample(
            "A file",
            request_only=True,
            media_type="multipart/form-data",
            value={"kind": "data.import", "params": '{"target": "contacts"}', "file": "c.csv"},
        ),
        OpenApiExample(
            "The preview",
            response_only=True,
            value={
                "kind": "data.import",
                "columns": ["email", "name", "age", "city"],
                "rows": [
                    {
                        "line": 2,
                        "values": {"email": "ada@example.com", "name": "Ada", "age": "36"},
                        "valid": True,
                        "errors": [],
                    },
                    {
                        "line": 3,
                        "values": {"email": "bob@example.com", "name": "Bob", "age": "old"},
                        "valid": False,
                        "errors": [
                            {
                                "code": "invalid_value",
                                "message": "line 3, column 'age': not a whole number",
                            }
                        ],
                    },
                ],
                "invalid_rows": 1,
            },
        ),
        ERROR_EXAMPLE,
    ],
)
