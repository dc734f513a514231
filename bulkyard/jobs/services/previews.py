"""A dry run of a job's first rows before it is submitted: the request is
validated as ``job_create`` validates it, then the kind judges the first items
of the input as its real run would (``JobKind.preview``). Nothing is stored:
the upload stays where the request put it, and no job, quota or ledger row is
touched."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from bulkyard.jobs.inputs import read_head
from bulkyard.jobs.kinds import CodedError, InputRejected
from bulkyard.jobs.previews import Preview
from bulkyard.jobs.services.creation import InvalidJobRequest, JobInput, validate_request

PREVIEW_ROWS_DEFAULT = 20
PREVIEW_ROWS_MAX = 100


class PreviewNotOffered(CodedError):
    """The kind has no dry-run preview."""


def job_preview(
    *,
    owner: User,
    kind: str,
    params: dict[str, Any] | None,
    job_input: JobInput | None,
    rows: int = PREVIEW_ROWS_DEFAULT,
) -> Preview:
    """The first ``rows`` items of the input with what would fail them.

    Raises what ``job_create`` raises for the same request (``InvalidJobRequest``,
    ``JobNotAllowed``) and ``PreviewNotOffered`` for a kind without a preview.
    """
    if not 1 <= rows <= PREVIEW_ROWS_MAX:
        raise InvalidJobRequest("invalid_rows", f"rows must be between 1 and {PREVIEW_ROWS_MAX}")
    job_kind, clean_params, _, _ = validate_request(
        owner=owner, kind=kind, params=params, job_input=job_input, chunk_size=None
    )
    if not job_kind.offers_preview:
        raise PreviewNotOffered(
            "preview_not_offered", f"kind {job_kind.name!r} offers no dry-run preview"
        )
    # validate_request answered without an input only for a kind that takes
    # none; such a kind has nothing to preview.
    if job_input is None:
        raise PreviewNotOffered(
            "preview_not_offered", "there is no input to preview: this job reads no file"
        )
    try:
        head = read_head(
            job_input.file,
            job_input.format,
            rows=rows,
            max_file_bytes=job_kind.max_file_bytes(),
        )
    except InputRejected as exc:
        raise InvalidJobRequest(exc.code, exc.message) from None
    parsed = job_kind.parse_params(clean_params)
    return job_kind.preview(head.items, parsed, owner=owner)
