"""A job's output file (an export's CSV, processed documents, resized
images) as a download: on object storage a short-lived link to the store
itself (decision 0028), otherwise streamed in bounded pieces, never read whole."""

import mimetypes
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

from bulkyard.core.storage import DownloadLinks
from bulkyard.jobs.models import Job
from bulkyard.jobs.results import streamed

PIECE_BYTES = 256 * 1024


def output_response(job: Job, *, request: HttpRequest) -> HttpResponseBase:
    """The output of ``job`` (which has one, and which the caller may see) as
    an attachment: a redirect to a presigned URL when the storage gives them
    and ``BULKYARD_S3_DOWNLOADS`` is ``redirect``, else the bytes streamed."""
    stored = job.output_file
    name = stored.name.rsplit("/", 1)[-1]
    content_type = _content_type(name)
    disposition = content_disposition_header(True, name) or "attachment"
    storage = stored.storage
    if isinstance(storage, DownloadLinks) and settings.BULKYARD_S3_DOWNLOADS == "redirect":
        url = storage.download_url(
            stored.name,
            disposition=disposition,
            content_type=content_type,
            seconds=settings.BULKYARD_S3_URL_SECONDS,
        )
        redirect = HttpResponseRedirect(url)
        # The link is signed and expires: neither the browser nor a proxy may
        # keep it for a later request, which must check ownership again.
        redirect["Cache-Control"] = "no-store"
        return redirect
    # The storage's own file: on S3 a ranged reader, which knows its size from
    # the HEAD it opened with (the field's size would ask again).
    raw = stored.storage.open(stored.name, "rb")
    return _streamed(
        raw,
        size=raw.size,
        content_type=content_type,
        disposition=disposition,
        request=request,
    )


def _streamed(
    raw: BinaryIO, *, size: int, content_type: str, disposition: str, request: HttpRequest
) -> StreamingHttpResponse:
    """Not a ``FileResponse``: under ASGI Django reads a sync iterator whole
    into memory before sending a byte (an output can be gigabytes);
    ``streamed`` hands it an async one."""
    response = StreamingHttpResponse(
        streamed(_pieces(raw), request=request), content_type=content_type
    )
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = disposition
    return response


def _content_type(name: str) -> str:
    content_type, encoding = mimetypes.guess_type(name)
    # A compressed file is sent as what it is, not as its content.
    if encoding == "gzip":
        return "application/gzip"
    return content_type or "application/octet-stream"


def _pieces(raw: BinaryIO) -> Iterator[bytes]:
    try:
        while piece := raw.read(PIECE_BYTES):
            yield piece
    finally:
        raw.close()
