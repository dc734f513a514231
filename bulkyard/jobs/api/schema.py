"""The API's OpenAPI description: each operation's summary, responses and
examples, as decorators the views wear (``@schema.jobs_create``). drf-spectacular
turns them into the schema served at ``/api/schema/``; nothing here runs
when a request is answered."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from bulkyard.core.openapi import error_responses
from bulkyard.jobs.api.accepted import JobAcceptedSerializer
from bulkyard.jobs.api.account import MeSerializer
from bulkyard.jobs.api.examples import (
    ERROR_EXAMPLE,
    IDEMPOTENCY_HEADER,
    JOB_EXAMPLE,
    JOB_ID,
    JOB_RESPONSE_EXAMPLE,
    MAIL_WARNING,
    QUOTA_EXCEEDED_EXAMPLE,
)
from bulkyard.jobs.api.kinds import KindSerializer
from bulkyard.jobs.api.serializers import (
    JobCreateInputSerializer,
    JobSerializer,
    ResultsQuerySerializer,
)
from bulkyard.jobs.models import JobPriority, JobStatus


def _repeatable_filter(name: str, choices: list[str]) -> OpenApiParameter:
    """A filter that takes one value, or several by repeating it. Described
    as one value: an array parameter is turned by Postman's import (and other
    tools that fake a value per item) into the same parameter twice."""
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        enum=choices,
        description=f"Jobs with this {name}; repeat the parameter for several "
        f"(`?{name}={choices[0]}&{name}={choices[1]}`).",
    )


jobs_list = extend_schema(
    operation_id="jobs_list",
    summary="List your jobs",
    description="Your own jobs, newest first, filtered by status, kind and priority, paginated.",
    parameters=[
        _repeatable_filter("status", list(JobStatus.values)),
        _repeatable_filter("priority", list(JobPriority.values)),
    ],
    responses={200: JobSerializer(many=True), **error_responses(400, 404)},
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


def _upload_field(name: str) -> serializers.Field:
    return JobCreateInputSerializer().fields[name]


# The multipart form, which differs from the JSON body: `params` and
# `callback` are JSON text (a form field is text) and there are no inline `items`. The rest is the
# input serializer's own fields, so their help and limits stay in one place.
JOB_UPLOAD = inline_serializer(
    "JobCreateUpload",
    {
        "kind": serializers.CharField(help_text="A kind from GET /api/v1/kinds/."),
        "params": serializers.CharField(
            required=False,
            default="{}",
            help_text='The kind\'s parameters, as a JSON object: `{"top_words": 3}`.',
        ),
        **{
            name: _upload_field(name)
            for name in ("file", "format", "chunk_size", "priority", "attachments")
        },
        "callback": serializers.CharField(
            required=False,
            help_text="A completion callback, as JSON text: "
            '`{"url": "https://…", "secret": "whsec_…"}` (the JSON body\'s `callback`).',
        ),
    },
)


jobs_create = extend_schema(
    operation_id="jobs_create",
    summary="Submit a bulk job",
    description=(
        "Accepts the batch and answers `202 Accepted` at once; workers process it in "
        "chunks. Send inline `items` as JSON for small batches, or a CSV / JSON Lines "
        "`file` as multipart for any size (streamed to storage, never held in memory). "
        "Follow the job at `Location` (or the `websocket` link); download per-item "
        "results when it has finished. With a `callback` (`{url, secret}`), the job is "
        "POSTed to `url` when it ends, signed per Standard Webhooks with `secret`; a URL "
        "the outbound rules refuse is a `400` (`invalid_callback`). `warnings` lists what "
        "the submitter should know that did not stop the job (`mail_server_unreachable`: "
        "an `email.send` job while the mail server cannot be reached)."
    ),
    parameters=[IDEMPOTENCY_HEADER],
    # Multipart first: tools that build one request per operation (Postman's
    # import) take the first listed, and a file upload is the usual job.
    request={
        "multipart/form-data": JOB_UPLOAD,
        "application/json": JobCreateInputSerializer,
    },
    responses={202: JobAcceptedSerializer, **error_responses(400, 403, 413, 422)},
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
        OpenApiExample(
            "With a completion callback",
            request_only=True,
            media_type="application/json",
            value={
                "kind": "text.stats",
                "items": [{"id": "a", "text": "Tell me when it is done."}],
                "callback": {
                    "url": "https://hooks.example.com/bulkyard",
                    "secret": "whsec_REPLACEwithYOURownSECRETxxxxxxxxxxxx",
                },
            },
        ),
        OpenApiExample(
            "Accepted",
            response_only=True,
            status_codes=["202"],
            value={**JOB_EXAMPLE, "status": "queued", "warnings": []},
        ),
        OpenApiExample(
            "Accepted with a warning",
            response_only=True,
            status_codes=["202"],
            value={
                **JOB_EXAMPLE,
                "kind": "email.send",
                "status": "queued",
                "warnings": [{"code": "mail_server_unreachable", "message": MAIL_WARNING}],
            },
        ),
        ERROR_EXAMPLE,
        QUOTA_EXCEEDED_EXAMPLE,
    ],
)


jobs_retrieve = extend_schema(
    operation_id="jobs_retrieve",
    summary="Get a job's status and progress",
    responses={200: JobSerializer, **error_responses(404)},
    examples=[JOB_RESPONSE_EXAMPLE],
)


jobs_cancel = extend_schema(
    operation_id="jobs_cancel",
    summary="Cancel a job",
    description=(
        "No new chunk starts; running chunks stop between items and keep what they "
        "did. The job goes to `cancelling`, then `cancelled` (a queued job at once). "
        "Cancelling a cancelled job is a no-op; a finished job answers 409."
    ),
    request=None,
    responses={202: JobSerializer, **error_responses(404, 409)},
    examples=[
        OpenApiExample(
            "Cancelling",
            response_only=True,
            status_codes=["202"],
            value={**JOB_EXAMPLE, "status": "cancelling"},
        )
    ],
)


jobs_pause = extend_schema(
    operation_id="jobs_pause",
    summary="Pause a job",
    description=(
        "No new chunk of the job starts (nor its planning, if it is queued); chunks "
        "already running finish and commit, so the counts may still rise for a moment. "
        "The job is `paused` at once, with `paused_at` set, until resumed; one paused for "
        "longer than `BULKYARD_PAUSE_MAX_HOURS` (72 h by default) is cancelled, with the "
        "error `paused_too_long`. A paused job whose chunks have all finished finishes as "
        "usual. Pausing a paused job is a no-op; a finished job, or one being cancelled, "
        "answers 409."
    ),
    request=None,
    responses={200: JobSerializer, **error_responses(404, 409)},
    examples=[
        OpenApiExample(
            "Paused",
            response_only=True,
            status_codes=["200"],
            value={
                **JOB_EXAMPLE,
                "status": "paused",
                "paused_at": "2026-11-25T10:00:05.000000Z",
                "paused_seconds": 0.0,
                "progress": {
                    "percent": 42.0,
                    "items_per_second": 8400.0,
                    "eta_seconds": None,
                    "duration_seconds": 5.0,
                },
            },
        )
    ],
)


jobs_resume = extend_schema(
    operation_id="jobs_resume",
    summary="Resume a paused job",
    description=(
        "The job goes on where it stopped: `running` again (or `queued`, if it was paused "
        "before it was planned), and workers are woken at once. Resuming a queued or "
        "running job is a no-op; a finished job, or one being cancelled, answers 409. A "
        "paused job counts against no job quota: resuming it is refused with 429 "
        "`quota_exceeded` while you have `running_jobs` running (or `queued_jobs` queued, "
        "for a job paused before it was planned)."
    ),
    request=None,
    responses={200: JobSerializer, **error_responses(404, 409)},
    examples=[JOB_RESPONSE_EXAMPLE],
)


jobs_retry = extend_schema(
    operation_id="jobs_retry",
    summary="Retry the failed items of a finished job",
    description=(
        "Creates a new job with the same kind and params whose input is the failed "
        "items of this one, keeping their item (line) numbers."
    ),
    parameters=[IDEMPOTENCY_HEADER],
    request=None,
    responses={202: JobAcceptedSerializer, **error_responses(400, 403, 404, 409, 422)},
    examples=[
        OpenApiExample(
            "The retry job",
            response_only=True,
            status_codes=["202"],
            value={
                **JOB_EXAMPLE,
                "status": "queued",
                "input": {"format": "retry", "name": f"retry-of-{JOB_ID}.jsonl", "size": 912},
                "retry_of": JOB_ID,
                "warnings": [],
            },
        ),
        QUOTA_EXCEEDED_EXAMPLE,
    ],
)


jobs_results = extend_schema(
    operation_id="jobs_results",
    summary="Download per-item results, or the items that never ran",
    description=(
        "Streams one record per item: its number (the input line for files), outcome, "
        "error code and message, output, and (for failures) the input. CSV cells that "
        "a spreadsheet would run as formulas are neutralised with a leading quote.\n\n"
        "`?outcome=unprocessed` streams instead the items of a finished job that never "
        "ran (a cancel stopped them), as a file in the input's own format, ready to submit "
        "again: a CSV's header and records byte for byte, JSON Lines' lines, a ZIP of the "
        "files (a retry job's items as JSON Lines). A job that never started gives its "
        "whole input. The `X-Unprocessed-Count` header says how many items it holds. "
        "409 `job_not_finished` while the job runs, `no_input` for kinds that find their "
        "own items."
    ),
    parameters=[ResultsQuerySerializer],
    responses={
        (200, "text/csv"): OpenApiTypes.STR,
        (200, "application/x-ndjson"): OpenApiTypes.STR,
        (200, "application/zip"): OpenApiTypes.BINARY,
        **error_responses(400, 404, 409),
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
        OpenApiExample(
            "Unprocessed items of a cancelled CSV job",
            response_only=True,
            media_type="text/csv",
            value='id,text\n812,"Still to do,\non two lines"\n813,Not reached either\n',
        ),
        OpenApiExample(
            "A job that is still running",
            response_only=True,
            status_codes=["409"],
            value={
                "error": {
                    "code": "job_not_finished",
                    "message": "the job is running: which items never ran is known once it has "
                    "finished (cancel it to stop it now)",
                    "details": None,
                }
            },
        ),
    ],
)


jobs_output = extend_schema(
    operation_id="jobs_output",
    summary="Download the job's merged output",
    description=(
        "For kinds that produce one job-level file (an export, a ZIP of images). With "
        "object storage the answer may be a 302 redirect to a presigned URL of the store, "
        "valid for a few minutes: follow it without this API's credentials (the URL "
        "carries its own); it answers with the same file name and type."
    ),
    responses={
        (200, "application/octet-stream"): OpenApiTypes.BINARY,
        302: OpenApiResponse(
            description="The file is fetched from object storage: its presigned URL is "
            "in Location (Cache-Control: no-store)."
        ),
        **error_responses(404),
    },
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


kinds_list = extend_schema(
    operation_id="kinds_list",
    summary="List job kinds and their parameter schemas",
    responses={200: KindSerializer(many=True), **error_responses()},
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
                    "example_params": {"text_field": "text", "id_field": "id", "top_words": 3},
                    "offers_preview": False,
                }
            ],
        )
    ],
)


me_retrieve = extend_schema(
    operation_id="me_retrieve",
    summary="Who you are, and your quotas",
    description=(
        "Your user, and for each quota its limit, what you use of it and what remains "
        "(`null`: unlimited). A job beyond a quota is refused with `429 quota_exceeded`. "
        "Job quotas count your jobs `running` or `cancelling` and your jobs `queued`; day "
        "quotas count the jobs submitted since 00:00 UTC and start again at `resets_at`."
    ),
    responses={200: MeSerializer, **error_responses()},
    examples=[
        OpenApiExample(
            "You and your quotas",
            response_only=True,
            value={
                "id": 7,
                "username": "alice",
                "quotas": {
                    "running_jobs": {"limit": 5, "used": 2, "remaining": 3, "resets_at": None},
                    "queued_jobs": {"limit": 20, "used": 0, "remaining": 20, "resets_at": None},
                    "items_per_day": {
                        "limit": 1000000,
                        "used": 125000,
                        "remaining": 875000,
                        "resets_at": "2026-11-26T00:00:00Z",
                    },
                    "upload_bytes_per_day": {
                        "limit": None,
                        "used": 20946363,
                        "remaining": None,
                        "resets_at": "2026-11-26T00:00:00Z",
                    },
                },
            },
        )
    ],
)
