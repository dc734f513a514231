"""A job's output file (an export's CSV, processed documents, resized
images) as a download: streamed in bounded pieces, never read whole."""

import mimetypes
from collections.abc import Iterator
from typing import BinaryIO

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

from bulkyard.jobs.models import Job
from bulkyard.jobs.results import streamed

PIECE_BYTES = 256 * 1024


def output_response(job: Job, *, request: HttpRequest) -> StreamingHttpResponse:
    """The output of ``job`` (which has one) as an attachment. Not a
    ``FileResponse``: under ASGI Django reads a sync iterator whole into
    memory before sending a byte (an output can be gigabytes); ``streamed``
    hands it an async one."""
    stored = job.output_file
    name = stored.name.rsplit("/", 1)[-1]
    # The storage's own file: on S3 a ranged reader, which knows its size from
    # the HEAD it opened with (the field's size would ask again).
    raw = stored.storage.open(stored.name, "rb")
    content_type, encoding = mimetypes.guess_type(name)
    response = StreamingHttpResponse(
        streamed(_pieces(raw), request=request),
        # A compressed file is sent as what it is, not as its content.
        content_type="application/gzip"
        if encoding == "gzip"
        else (content_type or "application/octet-stream"),
    )
    response["Content-Length"] = str(raw.size)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response


def _pieces(raw: BinaryIO) -> Iterator[bytes]:
    try:
        while piece := raw.read(PIECE_BYTES):
            yield piece
    finally:
        raw.close()
