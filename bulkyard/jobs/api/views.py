"""HTTP entry points of the job engine: parse, call a service, render."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404, StreamingHttpResponse
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulkyard.core.exceptions import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    PayloadTooLarge,
)
from bulkyard.core.parsers import SafeJSONParser
from bulkyard.core.throttling import UserRateThrottle
from bulkyard.jobs import registry, selectors, services
from bulkyard.jobs.api.serializers import (
    JobCreateInputSerializer,
    JobSerializer,
    KindSerializer,
    ResultsQuerySerializer,
)
from bulkyard.jobs.exports import results_response
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.throttling import JobCreateThrottle
from bulkyard.jobs.uploads import upload_attachment, upload_job_input

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

_JOB_ID = "0b6f7c1e-5d1a-4c55-9a8e-2f4b9d7e3c10"
_JOB_URL = f"https://bulkyard.example/api/v1/jobs/{_JOB_ID}/"
JOB_EXAMPLE = {
    "id": _JOB_ID,
    "url": _JOB_URL,
    "kind": "text.stats",
    "status": "running",
    "params": {"text_field": "text", "id_field": "id", "words_per_minute": 230, "top_words": 5},
    "input": {"format": "csv", "name": "texts.csv", "size": 20946363},
    "chunk_size": 1000,
    "total_items": 100000,
    "processed_items": 42000,
    "succeeded_items": 41990,
    "failed_items": 10,
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
    "error": None,
    "summary": None,
    "idempotency_key": "texts-2026-11-25",
    "retry_of": None,
    "links": {
        "self": _JOB_URL,
        "status": _JOB_URL,
        "websocket": f"wss://bulkyard.example/ws/jobs/{_JOB_ID}/",
        "results": f"{_JOB_URL}results/",
        "failed_results": f"{_JOB_URL}results/?outcome=failed",
        "succeeded_results": f"{_JOB_URL}results/?outcome=succeeded",
        "output": None,
        "cancel": f"{_JOB_URL}cancel/",
        "retry": f"{_JOB_URL}retry/",
    },
}
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


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidRequest(
            "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable characters"
        )
    return key


def _accepted(request: Request, job: Job, created: bool) -> Response:
    data = JobSerializer(job, context={"request": request}).data
    response = Response(data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = data["url"]
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation documents, besides auth and throttling."""
    descriptions = {
        400: "Invalid request; the message says what and where.",
        401: "Missing or invalid credentials.",
        404: "No such job (or not yours).",
        409: "The job is not in a state that allows this.",
        413: "The upload is larger than the limit.",
        422: "Idempotency-Key reused with a different request.",
        429: "Too many requests; retry after the Retry-After header.",
    }
    return {
        code: OpenApiResponse(ERROR_RESPONSE, description=descriptions[code])
        for code in (*codes, 401, 429)
    }


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned into UTC while validating: PostgreSQL
    refuses offsets beyond ±15:59, which ISO 8601 (and Python) allow."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date/time between years 1 and 9999.") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class JobFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=JobStatus.choices)
    kind = filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ["status", "kind"]


class JobListCreateApi(generics.ListAPIView[Job]):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    throttle_classes = [UserRateThrottle, JobCreateThrottle]

    def get_queryset(self) -> Any:
        return selectors.job_list(user=self.request.user)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Refuse an oversized body before reading a byte of it. Bodies without a
        # length are cut off by the upload handler at the same limit.
        limit = settings.BULKYARD_MAX_UPLOAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method == "POST" and length > limit:
            raise PayloadTooLarge(
                f"the request body has {length} bytes; the limit is {limit} bytes"
            )
        json_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.content_type == "application/json" and length > json_limit:
            # JSON is parsed in memory: big batches belong in a file upload.
            raise PayloadTooLarge(
                f"a JSON body may have at most {json_limit} bytes; upload a CSV or "
                "JSON Lines file for larger batches"
            )
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="jobs_list",
        summary="List your jobs",
        description="Your own jobs, newest first, filtered by status and kind, paginated.",
        responses={200: JobSerializer(many=True), **_errors(400, 404)},
        examples=[
            OpenApiExample(
                "A page of jobs",
                response_only=True,
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [JOB_EXAMPLE],
                },
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="jobs_create",
        summary="Submit a bulk job",
        description=(
            "Accepts the batch and answers `202 Accepted` at once; workers process it in "
            "chunks. Send inline `items` as JSON for small batches, or a CSV / JSON Lines "
            "`file` as multipart for any size (streamed to storage, never held in memory). "
            "Follow the job at `Location` (or the `websocket` link); download per-item "
            "results when it has finished."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request={
            "application/json": JobCreateInputSerializer,
            "multipart/form-data": JobCreateInputSerializer,
        },
        responses={202: JobSerializer, **_errors(400, 413, 422)},
        examples=[
            OpenApiExample(
                "Inline items",
                request_only=True,
                media_type="application/json",
                value={
                    "kind": "text.stats",
                    "params": {"top_words": 3},
                    "items": [
                        {"id": "a", "text": "Bulk work belongs in workers."},
                        {"id": "b", "text": "Requests answer at once. Workers do the rest!"},
                    ],
                },
            ),
            OpenApiExample(
                "File upload",
                request_only=True,
                media_type="multipart/form-data",
                value={"kind": "text.stats", "params": '{"top_words": 3}', "file": "texts.csv"},
            ),
            JOB_RESPONSE_EXAMPLE,
            ERROR_EXAMPLE,
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key(request)
        payload = JobCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job_input = _job_input(data)
        try:
            job, created = services.job_create(
                owner=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                params=data["params"],
                job_input=job_input,
                chunk_size=data.get("chunk_size"),
                idempotency_key=key,
                attachments=[upload_attachment(upload) for upload in data.get("attachments", [])],
            )
        except services.InvalidJobRequest as exc:
            raise InvalidRequest(exc.code, exc.message, exc.details) from None
        except services.JobNotAllowed as exc:
            raise Forbidden(exc.code, exc.message) from None
        except services.IdempotencyKeyMismatch as exc:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was used for job {exc.job.pk} with a different request"
            ) from None
        return _accepted(request, job, created)


def _job_input(data: dict[str, Any]) -> services.JobInput | None:
    if "items" not in data and "file" not in data:
        return None
    if "file" in data:
        return upload_job_input(data["file"], input_format=data["format"])
    body = b"".join(
        json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for item in data["items"]
    )
    return services.JobInput(
        file=ContentFile(body),
        format="jsonl",
        name="inline.jsonl",
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )


class JobDetailApi(APIView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get a job's status and progress",
        responses={200: JobSerializer, **_errors(404)},
        examples=[JOB_RESPONSE_EXAMPLE],
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobCancelApi(APIView):
    @extend_schema(
        operation_id="jobs_cancel",
        summary="Cancel a job",
        description=(
            "No new chunk starts; running chunks stop between items and keep what they "
            "did. The job goes to `cancelling`, then `cancelled` (a queued job at once). "
            "Cancelling a cancelled job is a no-op; a finished job answers 409."
        ),
        request=None,
        responses={202: JobSerializer, **_errors(404, 409)},
        examples=[
            OpenApiExample(
                "Cancelling",
                response_only=True,
                status_codes=["202"],
                value={**JOB_EXAMPLE, "status": "cancelling"},
            )
        ],
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            job = services.job_cancel(job=job)
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        return Response(
            JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class JobRetryApi(APIView):
    # A retry is a new job: it spends the same budget as submitting one.
    throttle_classes = [UserRateThrottle, JobCreateThrottle]

    @extend_schema(
        operation_id="jobs_retry",
        summary="Retry the failed items of a finished job",
        description=(
            "Creates a new job with the same kind and params whose input is the failed "
            "items of this one, keeping their item (line) numbers."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=None,
        responses={202: JobSerializer, **_errors(400, 404, 409, 422)},
        examples=[
            OpenApiExample(
                "The retry job",
                response_only=True,
                status_codes=["202"],
                value={
                    **JOB_EXAMPLE,
                    "status": "queued",
                    "input": {"format": "retry", "name": f"retry-of-{_JOB_ID}.jsonl", "size": 912},
                    "retry_of": _JOB_ID,
                },
            )
        ],
    )
    def post(self, request: Request, job_id: str) -> Response:
        key = _idempotency_key(request)
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            retry, created = services.job_retry_failed(
                job=job,
                owner=request.user,  # type: ignore[arg-type]
                idempotency_key=key,
            )
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        except services.InvalidJobRequest as exc:
            # The job's kind or its limits changed since it ran.
            raise Conflict(f"the job cannot be retried: {exc.message}", exc.code) from None
        except services.JobNotAllowed as exc:
            # Its owner lost a permission since it ran.
            raise Forbidden(exc.code, exc.message) from None
        except services.IdempotencyKeyMismatch as exc:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was used for job {exc.job.pk} with a different request"
            ) from None
        return _accepted(request, retry, created)


class JobResultsApi(APIView):
    @extend_schema(
        operation_id="jobs_results",
        summary="Download per-item results",
        description=(
            "Streams one record per item: its number (the input line for files), outcome, "
            "error code and message, output, and (for failures) the input. CSV cells that "
            "a spreadsheet would run as formulas are neutralised with a leading quote."
        ),
        parameters=[ResultsQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            **_errors(400, 404),
        },
        examples=[
            OpenApiExample(
                "Failed items as CSV",
                response_only=True,
                media_type="text/csv",
                value=(
                    "item,outcome,code,message,output,input.id,input.text\n"
                    '9,failed,wrong_field_count,"line 9: expected 2 fields as in the header, '
                    'found 3",,"[""8"", ""one field too many"", ""extra""]",\n'
                ),
            ),
            OpenApiExample(
                "Results as JSON Lines",
                response_only=True,
                media_type="application/x-ndjson",
                value=(
                    '{"item": 2, "outcome": "succeeded", "code": null, "message": null, '
                    '"output": {"id": "1", "words": 17}, "input": null}\n'
                ),
            ),
        ],
    )
    def get(self, request: Request, job_id: str) -> StreamingHttpResponse:
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        job = selectors.job_get(user=request.user, job_id=job_id)
        return results_response(
            job,
            outcome=query.validated_data.get("outcome"),
            fmt=query.validated_data["format"],
            request=request._request,
        )


class JobOutputApi(APIView):
    @extend_schema(
        operation_id="jobs_output",
        summary="Download the job's merged output",
        description="For kinds that produce one job-level file (an export, a ZIP of images).",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **_errors(404)},
        examples=[
            OpenApiExample(
                "No output file",
                response_only=True,
                status_codes=["404"],
                value={
                    "error": {
                        "code": "not_found",
                        "message": "This job has no output file.",
                        "details": None,
                    }
                },
            )
        ],
    )
    def get(self, request: Request, job_id: str) -> FileResponse:
        job = selectors.job_get(user=request.user, job_id=job_id)
        if not job.output_file:
            raise Http404("This job has no output file.")
        return FileResponse(
            job.output_file.open("rb"),
            as_attachment=True,
            filename=job.output_file.name.rsplit("/", 1)[-1],
        )


class KindListApi(APIView):
    @extend_schema(
        operation_id="kinds_list",
        summary="List job kinds and their parameter schemas",
        responses={200: KindSerializer(many=True), **_errors()},
        examples=[
            OpenApiExample(
                "Kinds",
                response_only=True,
                value=[
                    {
                        "name": "text.stats",
                        "title": "Text statistics",
                        "description": "Per document: characters, words, sentences, ...",
                        "input_formats": ["csv", "jsonl"],
                        "reads_input": True,
                        "required_columns": [],
                        "chunk_size": 1000,
                        "max_chunk_size": 50000,
                        "queue": "bulkyard.cpu",
                        "params_schema": {
                            "type": "object",
                            "properties": {"text_field": {"type": "string", "default": "text"}},
                        },
                        "example_item": {"id": "doc-1", "text": "Bulk work belongs in workers."},
                    }
                ],
            )
        ],
    )
    def get(self, request: Request) -> Response:
        kinds = [
            {
                "name": kind.name,
                "title": kind.title or kind.name,
                "description": kind.description,
                "input_formats": list(kind.input_formats),
                "reads_input": kind.reads_input,
                "required_columns": list(kind.required_columns),
                "chunk_size": kind.effective_chunk_size(),
                "max_chunk_size": kind.max_chunk_size,
                "queue": kind.queue,
                "params_schema": kind.params_model.model_json_schema(),
                "example_item": kind.example_item,
            }
            for kind in registry.all_kinds()
        ]
        return Response(KindSerializer(kinds, many=True).data)
