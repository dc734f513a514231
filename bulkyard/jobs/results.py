"""A job's per-item results as a download (the API's and the admin's): CSV or
JSON Lines, streamed in bounded batches, CSV cells made inert in spreadsheets."""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from bulkyard.core.secrets import mask_secrets
from bulkyard.core.spreadsheets import neutralise
from bulkyard.jobs import registry, selectors
from bulkyard.jobs.models import ItemResult, Job

BATCH = 2000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict | list):
        return neutralise(json.dumps(value, ensure_ascii=False))
    return neutralise(str(value))


def _json_default(value: Any) -> str:
    return str(value)


def results_jsonl(results: Iterator[ItemResult], *, mask_inputs: bool = False) -> Iterator[bytes]:
    batch: list[bytes] = []
    for result in results:
        record = {
            "item": result.item_number,
            "outcome": result.outcome,
            "code": result.code or None,
            "message": result.message or None,
            "output": result.output,
            "input": mask_secrets(result.input) if mask_inputs else result.input,
        }
        batch.append(json.dumps(record, ensure_ascii=False, default=_json_default).encode())
        if len(batch) >= BATCH:
            yield b"\n".join(batch) + b"\n"
            batch = []
    if batch:
        yield b"\n".join(batch) + b"\n"


def results_csv(
    job: Job, results: Iterator[ItemResult], *, mask_inputs: bool = False
) -> Iterator[bytes]:
    """One row per item. A kind's declared output columns and a CSV input's own
    columns become columns of their own; anything else is a JSON cell."""
    try:
        output_columns = list(registry.get(job.kind).output_columns)
    except registry.UnknownKind:
        output_columns = []
    input_columns = list(job.input_header or [])
    header = ["item", "outcome", "code", "message"]
    header += [f"output.{c}" for c in output_columns] if output_columns else ["output"]
    header += [f"input.{c}" for c in input_columns] if input_columns else ["input"]

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for rows, result in enumerate(results, start=1):
        row = [str(result.item_number), result.outcome, _cell(result.code), _cell(result.message)]
        row += _spread(result.output, output_columns)
        row += _spread(mask_secrets(result.input) if mask_inputs else result.input, input_columns)
        writer.writerow(row)
        if rows % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def results_response(
    job: Job, *, outcome: str | None, fmt: str, request: HttpRequest, mask_inputs: bool = False
) -> StreamingHttpResponse:
    """A streamed download of a job's per-item results. ``mask_inputs`` for
    anyone but the job's owner: inputs may carry credentials."""
    rows = selectors.item_results(job=job, outcome=outcome).iterator(chunk_size=BATCH)
    if fmt == "csv":
        body = results_csv(job, rows, mask_inputs=mask_inputs)
        content_type = "text/csv; charset=utf-8"
    else:
        body, content_type = results_jsonl(rows, mask_inputs=mask_inputs), "application/x-ndjson"
    response = StreamingHttpResponse(streamed(body, request=request), content_type=content_type)
    name = f"job-{job.pk}-{outcome or 'all'}-results.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def streamed(
    body: Iterator[bytes], *, request: HttpRequest
) -> Iterator[bytes] | AsyncIterator[bytes]:
    """A download's body as a ``StreamingHttpResponse`` should get it. Under
    ASGI Django would buffer a sync iterator whole: it gets an async one that
    pulls each piece (from the database, from a file) in a thread."""
    if isinstance(request, ASGIRequest):
        return _in_thread(body)
    return body


async def _in_thread(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    def take() -> bytes | None:
        return next(parts, None)

    pull = sync_to_async(take, thread_sensitive=True)
    try:
        while (part := await pull()) is not None:
            yield part
    finally:
        # A client gone part-way: what the pieces came from (a cursor, an
        # open file) is released now, in the thread that used it.
        close = getattr(parts, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()


def _spread(value: Any, columns: list[str]) -> list[str]:
    if not columns:
        return [_cell(value)]
    if isinstance(value, dict):
        return [_cell(value.get(column)) for column in columns]
    if isinstance(value, list) and len(value) == len(columns):
        return [_cell(v) for v in value]
    # Not in the expected shape (e.g. a malformed input row): keep it whole.
    return [_cell(value)] + [""] * (len(columns) - 1)
