"""The items of a finished job that never ran, as a download in its input's
own format (``GET /jobs/{id}/results/?outcome=unprocessed``), for the client
to submit again: Salesforce Bulk API's "unprocessed records" file.

``selectors.job_unprocessed`` finds where those items are in the input (the
chunks a cancel closed or stopped part-way, and which of a stopped chunk's
items ran); the input's reader cuts the stored file down to them
(``InputReader.extract``): a CSV's header and records byte for byte, JSON
Lines' lines, a ZIP's files, a retry file's items as JSON Lines. An input that
was never planned is left whole, as it was stored (a gzip upload stays gzip).
"""

from collections.abc import Iterator
from typing import IO

from django.http import HttpRequest, StreamingHttpResponse

from bulkyard.jobs import selectors
from bulkyard.jobs.inputs import copy_ranges, reader_for
from bulkyard.jobs.kinds import InputRejected
from bulkyard.jobs.models import Job
from bulkyard.jobs.results import streamed
from bulkyard.jobs.selectors import UnprocessedUnavailable

COUNT_HEADER = "X-Unprocessed-Count"


def unprocessed_response(job: Job, *, request: HttpRequest) -> StreamingHttpResponse:
    """A streamed file of the job's items that never ran. Raises
    ``UnprocessedUnavailable`` (before anything is sent) for a job that is
    still active, has no input, or whose input can no longer be read."""
    remainders = selectors.job_unprocessed(job=job)
    reader = reader_for(job.input_format)
    try:
        raw = job.input_file.storage.open(job.input_file.name, "rb")
    except OSError:
        raise UnprocessedUnavailable("input_gone", "the job's input is no longer stored") from None
    try:
        extension, media_type = reader.extension, reader.media_type
        if remainders is None and job.input_compression:
            # Never planned, so never decompressed: the upload as it came.
            extension, media_type = f"{extension}.gz", "application/gzip"
            body = copy_ranges(raw, [(0, raw.seek(0, 2))])
        else:
            body = reader.extract(raw, remainders, header=job.input_header)
    except InputRejected as exc:
        raw.close()
        raise UnprocessedUnavailable(exc.code, exc.message) from None
    except BaseException:
        raw.close()
        raise
    response = StreamingHttpResponse(
        streamed(_closing(body, raw), request=request), content_type=media_type
    )
    name = f"job-{job.pk}-unprocessed.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    count = selectors.job_unprocessed_count(job)
    if count is not None:
        response[COUNT_HEADER] = str(count)
    return response


def _closing(body: Iterator[bytes], raw: IO[bytes]) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        raw.close()
