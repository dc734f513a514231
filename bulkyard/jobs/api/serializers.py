import json
from datetime import datetime
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.reverse import reverse

from bulkyard.jobs.api.callbacks import CALLBACK_SCHEMA, CallbackField, callback_representation
from bulkyard.jobs.inputs import MAX_ITEM_DEPTH, nested_too_deeply
from bulkyard.jobs.models import ItemOutcome, Job, JobPriority
from bulkyard.jobs.selectors import (
    job_has_unprocessed,
    job_paused_seconds,
    job_progress,
    job_unprocessed_count,
    masked_params,
)

# ``?outcome=`` of a job's results: an item outcome, or the items that never ran.
UNPROCESSED = "unprocessed"


@extend_schema_field(OpenApiTypes.OBJECT)
class ParamsField(serializers.Field):
    """A JSON object, given as an object (JSON body) or a JSON string (multipart)."""

    default_error_messages = {
        "invalid_json": "params must be a JSON object; could not parse it: {error}",
        "not_object": "params must be a JSON object, not {type}",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else {}
            except json.JSONDecodeError as exc:
                self.fail("invalid_json", error=exc.msg)
            except RecursionError:
                self.fail("invalid_json", error="nested too deeply")
        if not isinstance(data, dict):
            self.fail("not_object", type=type(data).__name__)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class InlineItemsField(serializers.ListField):
    """Inline items, each refused first if it is nested deeper than the input
    readers accept: validating an item (DRF's JSONField) and storing it as
    JSON Lines both call ``json.dumps``, which recurses once per level, so an
    item a parser accepted near the recursion limit would otherwise end the
    request in a RecursionError (a 500) instead of a 400."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list):  # anything else: ListField says what is wrong
            for position, item in enumerate(data, start=1):
                if nested_too_deeply(item):
                    raise serializers.ValidationError(
                        f"item {position} is nested more than {MAX_ITEM_DEPTH} levels deep"
                    )
        return super().to_internal_value(data)


class JobCreateInputSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(max_length=100, help_text="A kind from GET /api/v1/kinds/.")
    params = ParamsField(required=False, default=dict, help_text="The kind's parameters.")
    items = InlineItemsField(
        child=serializers.JSONField(),
        required=False,
        allow_empty=False,
        help_text="Inline items, for small batches (JSON body). Larger batches: upload a file.",
    )
    file = serializers.FileField(
        required=False,
        allow_empty_file=True,  # refused below with the same empty_file code as blank files
        help_text="CSV (with a header row) or JSON Lines (multipart), optionally "
        "gzip-compressed; or a ZIP of files, for kinds that read one.",
    )
    format = serializers.ChoiceField(
        choices=["csv", "jsonl", "zip"],
        required=False,
        help_text="Format of the file; taken from its extension when omitted. A ZIP's "
        "files are the items (for kinds that read zip).",
    )
    chunk_size = serializers.IntegerField(
        min_value=1, required=False, help_text="Items per chunk; the kind's default if omitted."
    )
    priority = serializers.ChoiceField(
        choices=JobPriority.choices,
        default=JobPriority.NORMAL,
        help_text="Order among your own jobs: high (needs a permission), normal or low. "
        "Other users' jobs still take turns with yours.",
    )
    callback = CallbackField(
        required=False,
        allow_null=True,
        help_text="A completion callback: one signed POST (Standard Webhooks) of the job's "
        "JSON to url when the job ends. A JSON string in multipart.",
    )
    retention_days = serializers.IntegerField(
        required=False,
        help_text="Days the job is kept once finished, then deleted with its results and "
        "files (see expires_at). Omitted: the server's default (30 unless configured); "
        "from 1 to the server's maximum (the default, unless configured).",
    )
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        help_text="Files kept with the job for kinds that use them (multipart; repeat the "
        "field): the attachments of email.send, referred to by file name.",
    )

    def validate_items(self, items: list[Any]) -> list[Any]:
        limit = settings.BULKYARD_MAX_INLINE_ITEMS
        if len(items) > limit:
            raise serializers.ValidationError(
                f"at most {limit} inline items; upload a CSV or JSON Lines file for more"
            )
        for position, item in enumerate(items, start=1):
            try:
                json.dumps(item, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise serializers.ValidationError(
                    f"item {position} holds a lone UTF-16 surrogate, which is not text"
                ) from None
        return items

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_items, has_file = "items" in attrs, "file" in attrs
        # Sending neither is for kinds that find their own items (an export);
        # job_create tells the other kinds that they need an input.
        if has_items and has_file:
            raise serializers.ValidationError(
                {"non_field_errors": ["send either inline 'items' or a 'file', not both"]},
                code="invalid_input",
            )
        if has_file and "format" not in attrs:
            name = attrs["file"].name.lower().removesuffix(".gz")
            if name.endswith((".csv", ".csv.txt")):
                attrs["format"] = "csv"
            elif name.endswith((".jsonl", ".ndjson")):
                attrs["format"] = "jsonl"
            elif name.endswith(".zip"):
                attrs["format"] = "zip"
            else:
                raise serializers.ValidationError(
                    {
                        "format": [
                            "cannot tell the file's format from its name; send format=csv|jsonl|zip"
                        ]
                    }
                )
        return attrs


class JobSerializer(serializers.ModelSerializer[Job]):
    url = serializers.SerializerMethodField()
    # Credentials in params are write-only, for the owner too: what comes back
    # ends up in logs, proxies and browser histories.
    params = serializers.SerializerMethodField()
    input = serializers.SerializerMethodField()
    unprocessed_items = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    chunks = serializers.SerializerMethodField()
    paused_seconds = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    callback = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "status",
            "priority",
            "params",
            "input",
            "chunk_size",
            "total_items",
            "processed_items",
            "succeeded_items",
            "failed_items",
            "unprocessed_items",
            "progress",
            "chunks",
            "created_at",
            "started_at",
            "finished_at",
            "cancel_requested_at",
            "paused_at",
            "paused_seconds",
            "retention_days",
            "expires_at",
            "error",
            "summary",
            "idempotency_key",
            "retry_of",
            "callback",
            "links",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Job) -> dict[str, Any]:
        """The fields in ``Meta.fields`` order, as DRF's generic path gives them
        (same values, same types: the retry's id stays a UUID), without it.

        DRF builds a ModelSerializer's fields anew for every instance it
        serializes (a deep copy of the declared ones plus one field per model
        column), once per status read and per WebSocket refresh.
        The declared fields still describe the schema; tests compare this
        output with DRF's for jobs in every state.
        """
        job = instance
        detail = self._url("jobs:job-detail", job)
        return {
            "id": str(job.pk),
            "url": detail,
            "kind": job.kind,
            "status": str(job.status),
            "priority": str(job.priority),
            "params": self.get_params(job),
            "input": self.get_input(job),
            "chunk_size": _integer(job.chunk_size),
            "total_items": _integer(job.total_items),
            "processed_items": _integer(job.processed_items),
            "succeeded_items": _integer(job.succeeded_items),
            "failed_items": _integer(job.failed_items),
            "unprocessed_items": self.get_unprocessed_items(job),
            "progress": self.get_progress(job),
            "chunks": self.get_chunks(job),
            "created_at": _datetime(job.created_at),
            "started_at": _datetime(job.started_at),
            "finished_at": _datetime(job.finished_at),
            "cancel_requested_at": _datetime(job.cancel_requested_at),
            "paused_at": _datetime(job.paused_at),
            "paused_seconds": self.get_paused_seconds(job),
            "retention_days": _integer(job.retention_days),
            "expires_at": _datetime(job.expires_at),
            "error": self.get_error(job),
            "summary": job.summary,
            "idempotency_key": job.idempotency_key,
            "retry_of": job.retry_of_id,
            "callback": self.get_callback(job),
            "links": self._links(job, detail),
        }

    def _request(self) -> Request | None:
        return self.context.get("request")

    def _url(self, name: str, job: Job) -> str:
        request = self._request()
        path = reverse(name, kwargs={"job_id": job.pk}, request=request)
        # Without a request (a completion callback's payload), absolute under
        # the service's public URL when one is set.
        return path if request is not None else f"{self.context.get('base_url', '')}{path}"

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_params(self, job: Job) -> dict[str, Any]:
        return masked_params(job)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: Job) -> str:
        return self._url("jobs:job-detail", job)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "format": {"type": "string"},
                "name": {"type": "string"},
                "size": {"type": "integer"},
            },
        }
    )
    def get_input(self, job: Job) -> dict[str, Any]:
        return {"format": job.input_format, "name": job.input_name, "size": job.input_size}

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_unprocessed_items(self, job: Job) -> int | None:
        """Items of a finished job that never ran (a cancel stopped them)."""
        return job_unprocessed_count(job)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "percent": {"type": "number", "nullable": True},
                "items_per_second": {"type": "number", "nullable": True},
                "eta_seconds": {"type": "number", "nullable": True},
                "duration_seconds": {"type": "number", "nullable": True},
            },
        }
    )
    def get_progress(self, job: Job) -> dict[str, Any]:
        progress = job_progress(job)
        return {
            "percent": progress.percent,
            "items_per_second": progress.items_per_second,
            "eta_seconds": progress.eta_seconds,
            "duration_seconds": progress.duration_seconds,
        }

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "total": {"type": "integer", "nullable": True},
                "finished": {"type": "integer"},
            },
        }
    )
    def get_chunks(self, job: Job) -> dict[str, Any]:
        return {"total": job.chunks_total, "finished": job.chunks_finished}

    @extend_schema_field(
        {
            "type": "number",
            "nullable": True,
            "description": "How long the job has been paused, while it is paused.",
        }
    )
    def get_paused_seconds(self, job: Job) -> float | None:
        return job_paused_seconds(job)

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    )
    def get_error(self, job: Job) -> dict[str, str] | None:
        if not job.error_code:
            return None
        return {"code": job.error_code, "message": job.error_message}

    @extend_schema_field(CALLBACK_SCHEMA)
    def get_callback(self, job: Job) -> dict[str, Any] | None:
        return callback_representation(job)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                name: {"type": "string", "format": "uri", "nullable": True}
                for name in (
                    "self",
                    "status",
                    "websocket",
                    "results",
                    "failed_results",
                    "succeeded_results",
                    "unprocessed",
                    "output",
                    "cancel",
                    "pause",
                    "resume",
                    "retry",
                )
            },
        }
    )
    def get_links(self, job: Job) -> dict[str, str | None]:
        return self._links(job, self._url("jobs:job-detail", job))

    def _links(self, job: Job, detail: str) -> dict[str, str | None]:
        # The job's other URLs are its detail URL and a suffix (see
        # bulkyard/jobs/api/urls.py): one reverse() instead of five.
        results = f"{detail}results/"
        request = self._request()
        websocket = None
        if request is not None:
            scheme = "wss" if request.is_secure() else "ws"
            websocket = f"{scheme}://{request.get_host()}/ws/jobs/{job.pk}/"
        elif base_url := self.context.get("base_url"):
            websocket = f"{base_url.replace('http', 'ws', 1)}/ws/jobs/{job.pk}/"
        return {
            "self": detail,
            "status": detail,
            "websocket": websocket,
            "results": results,
            "failed_results": f"{results}?outcome={ItemOutcome.FAILED}",
            "succeeded_results": f"{results}?outcome={ItemOutcome.SUCCEEDED}",
            "unprocessed": f"{results}?outcome={UNPROCESSED}" if job_has_unprocessed(job) else None,
            "output": f"{detail}output/" if job.output_file else None,
            "cancel": f"{detail}cancel/",
            "pause": f"{detail}pause/",
            "resume": f"{detail}resume/",
            "retry": f"{detail}retry/",
        }


# DRF's own formatting of date-times (the current time zone, "Z" for UTC),
# through one field made once.
_DATETIME_FIELD = serializers.DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME_FIELD.to_representation(value)


def _integer(value: int | None) -> int | None:
    return None if value is None else int(value)


class ResultsQuerySerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(
        choices=[*ItemOutcome.choices, (UNPROCESSED, "Unprocessed")],
        required=False,
        help_text="`failed` or `succeeded` results only; or `unprocessed`: the items of a "
        "finished (cancelled) job that never ran, as a file in the input's own format, "
        "to submit again.",
    )
    format = serializers.ChoiceField(
        choices=["csv", "jsonl"],
        default="csv",
        help_text="The results' format; not with outcome=unprocessed (the input's format).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("outcome") == UNPROCESSED and "format" in self.initial_data:
            raise serializers.ValidationError(
                {"format": ["unprocessed items come in the input's own format: omit format"]}
            )
        return attrs
