"""The error responses of the OpenAPI schema, shared by every app's API: the
one error shape (``bulkyard.core.exceptions``) under each status code an
operation can answer."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.JSONField(allow_null=True),
            },
        )
    },
)

DESCRIPTIONS = {
    400: "Invalid request; the message says what and where.",
    401: "Missing or invalid credentials.",
    403: "You may not run this job: a permission on its target, or for high priority.",
    404: "No such job (or not yours).",
    409: "The job is not in a state that allows this.",
    413: "The upload is larger than the limit.",
    422: "Idempotency-Key reused with a different request.",
    429: (
        "Too many requests (`throttled`), or, for a new or resumed job, a quota used up "
        "(`quota_exceeded`); retry after the Retry-After header."
    ),
    503: "The database is unreachable; retry after the Retry-After header.",
}

# What every authenticated operation may answer, whatever it does.
ALWAYS = (401, 429, 503)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation documents: ``codes`` and those of
    every authenticated call (credentials, throttling, a database outage)."""
    return {
        code: OpenApiResponse(ERROR_RESPONSE, description=DESCRIPTIONS[code])
        for code in (*codes, *ALWAYS)
    }
