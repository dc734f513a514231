"""HTTP entry points of the job engine: parse, call a service, render.

What each operation documents (summaries, responses, examples) is in
``schema``; the job list's filters are in ``filters``."""

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import Http404, StreamingHttpResponse
from django.http.response import HttpResponseBase
from rest_framework import generics, status
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
    TooManyRequests,
)
from bulkyard.core.parsers import SafeJSONParser
from bulkyard.core.sizes import human_bytes
from bulkyard.core.throttling import UserRateThrottle
from bulkyard.jobs import quotas, registry, selectors, services
from bulkyard.jobs.api import previews, schema
from bulkyard.jobs.api.accepted import accepted_response
from bulkyard.jobs.api.account import MeSerializer
from bulkyard.jobs.api.filters import JobFilter
from bulkyard.jobs.api.kinds import KindSerializer
from bulkyard.jobs.api.serializers import (
    UNPROCESSED,
    JobCreateInputSerializer,
    JobSerializer,
    ResultsQuerySerializer,
)
from bulkyard.jobs.models import Job
from bulkyard.jobs.outputs import output_response
from bulkyard.jobs.results import results_response
from bulkyard.jobs.throttling import JobCreateThrottle
from bulkyard.jobs.unprocessed import unprocessed_response
from bulkyard.jobs.uploads import upload_attachment, upload_job_input


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


def _over_quota(exc: services.QuotaExceeded) -> TooManyRequests:
    return TooManyRequests(exc.code, exc.message, wait=exc.retry_after, details=exc.details)


def _refuse_oversized(request: Request) -> None:
    """Refuse an oversized body before reading a byte of it (a submission's
    or a preview's). Bodies without a length are cut off by the upload
    handler at the same limit."""
    limit = settings.BULKYARD_MAX_UPLOAD_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if request.method == "POST" and length > limit:
        raise PayloadTooLarge(
            f"the request body has {human_bytes(length)}; the limit is {human_bytes(limit)}"
        )
    json_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.content_type == "application/json" and length > json_limit:
        # JSON is parsed in memory: big batches belong in a file upload.
        raise PayloadTooLarge(
            f"a JSON body may have at most {human_bytes(json_limit)}; upload a CSV or "
            "JSON Lines file for larger batches"
        )


class JobListCreateApi(generics.ListAPIView[Job]):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    throttle_classes = [UserRateThrottle, JobCreateThrottle]

    def get_queryset(self) -> Any:
        return selectors.job_list(user=self.request.user)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _refuse_oversized(request)
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            # A user with no quota left is refused before the request is
            # validated; with a token, before its body is parsed (a session's
            # CSRF check has read it already).
            try:
                services.quota_check_early(
                    owner=request.user,  # type: ignore[arg-type]
                    idempotency_key=_idempotency_key(request),
                )
            except services.QuotaExceeded as exc:
                raise _over_quota(exc) from None

    @schema.jobs_list
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @schema.jobs_create
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key(request)
        payload = JobCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job_input = _job_input(data)
        callback = data.get("callback")
        try:
            job, created = services.job_create(
                owner=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                params=data["params"],
                job_input=job_input,
                chunk_size=data.get("chunk_size"),
                idempotency_key=key,
                retention_days=data.get("retention_days"),
                attachments=[upload_attachment(upload) for upload in data.get("attachments", [])],
                priority=data["priority"],
                callback=services.CallbackRequest(**callback) if callback else None,
                item_count=len(data["items"]) if "items" in data else None,
            )
        except services.QuotaExceeded as exc:
            raise _over_quota(exc) from None
        except services.InvalidJobRequest as exc:
            raise InvalidRequest(exc.code, exc.message, exc.details) from None
        except services.JobNotAllowed as exc:
            raise Forbidden(exc.code, exc.message) from None
        except services.IdempotencyKeyMismatch as exc:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was used for job {exc.job.pk} with a different request"
            ) from None
        return accepted_response(request, job, created=created)


class JobPreviewApi(APIView):
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    # A preview reads an upload as a submission does: the same budget.
    throttle_classes = [UserRateThrottle, JobCreateThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _refuse_oversized(request)
        super().initial(request, *args, **kwargs)

    @previews.jobs_preview
    def post(self, request: Request) -> Response:
        payload = previews.JobPreviewInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            preview = services.job_preview(
                owner=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                params=data["params"],
                job_input=_job_input(data),
                rows=data["rows"],
            )
        except (services.InvalidJobRequest, services.PreviewNotOffered) as exc:
            raise InvalidRequest(exc.code, exc.message, getattr(exc, "details", None)) from None
        except services.JobNotAllowed as exc:
            raise Forbidden(exc.code, exc.message) from None
        return Response(previews.preview_data(kind=data["kind"], preview=preview))


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
    @schema.jobs_retrieve
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobCancelApi(APIView):
    @schema.jobs_cancel
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            job = services.job_cancel(job=job)
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        return Response(
            JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class JobPauseApi(APIView):
    @schema.jobs_pause
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            job = services.job_pause(job=job)
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        return Response(JobSerializer(job, context={"request": request}).data)


class JobResumeApi(APIView):
    @schema.jobs_resume
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            job = services.job_resume(job=job)
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        except services.QuotaExceeded as exc:
            raise _over_quota(exc) from None
        return Response(JobSerializer(job, context={"request": request}).data)


class JobRetryApi(APIView):
    # A retry is a new job: it spends the same budget as submitting one.
    throttle_classes = [UserRateThrottle, JobCreateThrottle]

    @schema.jobs_retry
    def post(self, request: Request, job_id: str) -> Response:
        key = _idempotency_key(request)
        job = selectors.job_get(user=request.user, job_id=job_id)
        try:
            # Before the failed items are read: a user with no quota left
            # is refused at once.
            services.quota_check_early(
                owner=request.user,  # type: ignore[arg-type]
                idempotency_key=key,
            )
            retry, created = services.job_retry_failed(
                job=job,
                owner=request.user,  # type: ignore[arg-type]
                idempotency_key=key,
            )
        except services.JobConflict as exc:
            raise Conflict(exc.message, exc.code) from None
        except services.QuotaExceeded as exc:
            raise _over_quota(exc) from None
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
        return accepted_response(request, retry, created=created)


class JobResultsApi(APIView):
    @schema.jobs_results
    def get(self, request: Request, job_id: str) -> StreamingHttpResponse:
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        job = selectors.job_get(user=request.user, job_id=job_id)
        outcome = query.validated_data.get("outcome")
        if outcome == UNPROCESSED:
            try:
                return unprocessed_response(job, request=request._request)
            except selectors.UnprocessedUnavailable as exc:
                raise Conflict(exc.message, exc.code) from None
        return results_response(
            job,
            outcome=outcome,
            fmt=query.validated_data["format"],
            request=request._request,
        )


class JobOutputApi(APIView):
    @schema.jobs_output
    def get(self, request: Request, job_id: str) -> HttpResponseBase:
        job = selectors.job_get(user=request.user, job_id=job_id)
        if not job.output_file:
            raise Http404("This job has no output file.")
        return output_response(job, request=request._request)


class KindListApi(APIView):
    @schema.kinds_list
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
                "example_params": kind.example_params,
                "offers_preview": kind.offers_preview,
            }
            for kind in registry.all_kinds()
        ]
        return Response(KindSerializer(kinds, many=True).data)


class MeApi(APIView):
    @schema.me_retrieve
    def get(self, request: Request) -> Response:
        user = request.user
        states = quotas.quota_report(user=user)  # type: ignore[arg-type]
        return Response(
            MeSerializer(
                {
                    "id": user.pk,
                    "username": user.get_username(),
                    "quotas": {
                        state.name: {
                            "limit": state.limit,
                            "used": state.used,
                            "remaining": state.remaining,
                            "resets_at": state.resets_at,
                        }
                        for state in states
                    },
                }
            ).data
        )
