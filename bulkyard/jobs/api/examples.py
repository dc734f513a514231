"""Examples and shared parameters of the API's OpenAPI description: a job as
the API shows it, an error, a quota refusal, the idempotency header. Kept
apart from the operations (schema.py, previews.py) that wear them."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Any unique string (up to 255 characters). Repeating a request with the same key "
        "returns the job the first request created instead of creating another; the same "
        "key with a different request is refused with 422."
    ),
)

JOB_ID = "0b6f7c1e-5d1a-4c55-9a8e-2f4b9d7e3c10"
_JOB_URL = f"https://bulkyard.example/api/v1/jobs/{JOB_ID}/"
JOB_EXAMPLE = {
    "id": JOB_ID,
    "url": _JOB_URL,
    "kind": "text.stats",
    "status": "running",
    "priority": "normal",
    "params": {"text_field": "text", "id_field": "id", "words_per_minute": 230, "top_words": 5},
    "input": {"format": "csv", "name": "texts.csv", "size": 20946363},
    "chunk_size": 1000,
    "total_items": 100000,
    "processed_items": 42000,
    "succeeded_items": 41990,
    "failed_items": 10,
    "unprocessed_items": None,
    "progress": {
        "percent": 42.0,
        "items_per_second": 8400.0,
        "eta_seconds": 6.9,
        "duration_seconds": 5.0,
    },
    "chunks": {"total": 100, "finished": 42},
    "created_at": "2026-11-25T10:00:00.000000Z",
    "started_at": "2026-11-25T10:00:00.250000Z",
    "finished_at": None,
    "cancel_requested_at": None,
    "paused_at": None,
    "paused_seconds": None,
    "retention_days": 30,
    "expires_at": None,
    "error": None,
    "summary": None,
    "idempotency_key": "texts-2026-11-25",
    "retry_of": None,
    "callback": {
        "url": "https://hooks.example.com/bulkyard",
        "delivery": {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": "",
            "delivered_at": None,
        },
    },
    "links": {
        "self": _JOB_URL,
        "status": _JOB_URL,
        "websocket": f"wss://bulkyard.example/ws/jobs/{JOB_ID}/",
        "results": f"{_JOB_URL}results/",
        "failed_results": f"{_JOB_URL}results/?outcome=failed",
        "succeeded_results": f"{_JOB_URL}results/?outcome=succeeded",
        "unprocessed": None,
        "output": None,
        "cancel": f"{_JOB_URL}cancel/",
        "pause": f"{_JOB_URL}pause/",
        "resume": f"{_JOB_URL}resume/",
        "retry": f"{_JOB_URL}retry/",
    },
}
MAIL_WARNING = (
    "the mail server cannot be reached now; "
    "the job is accepted and its emails are sent once it answers, or fail after their retries"
)
JOB_RESPONSE_EXAMPLE = OpenApiExample("A running job", value=JOB_EXAMPLE, response_only=True)
ERROR_EXAMPLE = OpenApiExample(
    "An error",
    response_only=True,
    status_codes=["400"],
    value={
        "error": {
            "code": "missing_columns",
            "message": "the input lacks required column(s): text; found: id, body",
            "details": None,
        }
    },
)

QUOTA_EXCEEDED_EXAMPLE = OpenApiExample(
    "A quota used up",
    response_only=True,
    status_codes=["429"],
    value={
        "error": {
            "code": "quota_exceeded",
            "message": "quota queued_jobs: you have 10 job(s) queued, the limit is 10; "
            "submit again once one has started",
            "details": {
                "quota": "queued_jobs",
                "limit": 10,
                "used": 10,
                "requested": None,
                "resets_at": None,
            },
        }
    },
)
