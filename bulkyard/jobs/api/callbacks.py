"""A job's completion callback in the API: the ``callback`` field a request
gives (``CallbackField``) and the ``callback`` a job shows, never its secret
(``callback_representation``). What is checked and how it is sent:
``bulkyard/jobs/services/callbacks.py``."""

import json
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bulkyard.core.secrets import mask_url_query
from bulkyard.jobs.models import CallbackStatus, Job
from bulkyard.jobs.selectors import job_callback

_DATETIME = serializers.DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


@extend_schema_field(
    {
        "type": "object",
        "required": ["url", "secret"],
        "properties": {
            "url": {
                "type": "string",
                "format": "uri",
                "description": "Where the job's JSON is POSTed once it ends: http or https, "
                "a public address (or one the server allows).",
            },
            "secret": {
                "type": "string",
                "writeOnly": True,
                "description": "Standard Webhooks signing secret: 'whsec_' followed by the "
                "base64 of 24 to 64 random bytes. Never shown again.",
            },
        },
    }
)
class CallbackField(serializers.Field):
    """A completion callback ``{url, secret}``, given as an object (JSON body)
    or a JSON string (multipart); its URL and secret are checked by the
    service (``services.callbacks.callback_checked``)."""

    default_error_messages = {
        "invalid_json": "callback must be a JSON object {{url, secret}}; could not parse it: "
        "{error}",
        "not_object": "callback must be a JSON object {{url, secret}}, not {type}",
        "unknown_keys": "callback takes url and secret only, not {keys}",
        "not_text": "callback.{name} is required, a string",
    }

    def to_internal_value(self, data: Any) -> dict[str, str] | None:
        if isinstance(data, str):
            if not data.strip():
                return None  # an empty form field: no callback
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                self.fail("invalid_json", error=exc.msg)
            except RecursionError:
                self.fail("invalid_json", error="nested too deeply")
        if not isinstance(data, dict):
            self.fail("not_object", type=type(data).__name__)
        unknown = sorted(str(key) for key in data if key not in ("url", "secret"))
        if unknown:
            self.fail("unknown_keys", keys=", ".join(unknown))
        for key in ("url", "secret"):
            if not isinstance(data.get(key), str):
                self.fail("not_text", name=key)
        return {"url": data["url"], "secret": data["secret"]}

    def to_representation(self, value: Any) -> Any:
        return value


_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

CALLBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "description": "The completion callback, if the job was given one (its secret is never "
    "shown), and how its delivery went.",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "delivery": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": [str(status) for status in CallbackStatus]},
                "attempts": {"type": "integer"},
                "next_attempt_at": _NULLABLE_TIME,
                "last_attempt_at": _NULLABLE_TIME,
                "last_status_code": {"type": "integer", "nullable": True},
                "last_error": {"type": "string"},
                "delivered_at": _NULLABLE_TIME,
            },
        },
    },
}


def callback_representation(job: Job) -> dict[str, Any] | None:
    """The job's callback as the API shows it: its URL (secret-looking query
    values masked) and its delivery; None if it has none."""
    delivery = job_callback(job)
    if delivery is None:
        return None
    retry_due = delivery.status == CallbackStatus.PENDING and delivery.attempts > 0
    return {
        "url": mask_url_query(delivery.url),
        "delivery": {
            "status": str(delivery.status),
            "attempts": delivery.attempts,
            # Only once a retry is scheduled: before the job ends there is no time.
            "next_attempt_at": _datetime(delivery.next_attempt_at) if retry_due else None,
            "last_attempt_at": _datetime(delivery.last_attempt_at),
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "delivered_at": _datetime(delivery.delivered_at),
        },
    }
