"""The first items of an upload, read as the real run reads them, for a
dry-run preview before any job exists.

Only the head is read (``HEAD_BYTES``, decompressed when the upload is gzip),
cut after its last whole line, so that a preview costs the same for a file of
ten rows and of ten million; the line numbers are the file's own. A ZIP's
items are its first members, read through its central directory as planning
reads them.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import IO

from bulkyard.jobs.inputs.csvinput import csv_read_header
from bulkyard.jobs.inputs.gzipped import GZIP_ERRORS, is_gzip
from bulkyard.jobs.inputs.lines import data_start
from bulkyard.jobs.inputs.spans import Span, read_span
from bulkyard.jobs.inputs.zipinput import plan_zip, read_zip_span
from bulkyard.jobs.kinds import InputRejected, Item
from bulkyard.jobs.models import InputFormat

HEAD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Head:
    # A CSV input's columns (None for JSON Lines and ZIP).
    header: list[str] | None
    items: list[Item]


def read_head(
    upload: IO[bytes], input_format: str, *, rows: int, max_file_bytes: int | None = None
) -> Head:
    """The first ``rows`` items of ``upload`` (fewer if the head holds fewer);
    raises ``InputRejected`` where the real run would refuse the whole input.
    Leaves the upload at its start."""
    upload.seek(0)
    try:
        if input_format == InputFormat.ZIP:
            return _zip_head(upload, rows=rows, max_file_bytes=max_file_bytes)
        head, whole = _head_bytes(upload)
        return _line_head(head, input_format, rows=rows, whole=whole)
    finally:
        upload.seek(0)


def _head_bytes(upload: IO[bytes]) -> tuple[bytes, bool]:
    """The head, and whether it is the whole file."""
    compressed = is_gzip(upload.read(2))
    upload.seek(0)
    if not compressed:
        return _whole_lines(upload.read)
    try:
        with gzip.GzipFile(fileobj=upload, mode="rb") as stream:
            return _whole_lines(stream.read)
    except GZIP_ERRORS as exc:
        raise InputRejected("invalid_gzip", f"the file is not valid gzip: {exc}") from None


def _whole_lines(read: Callable[[int], bytes]) -> tuple[bytes, bool]:
    head = read(HEAD_BYTES)
    if len(head) < HEAD_BYTES or not read(1):
        return head, True
    # The last line may be cut in the middle: it is not read as an item.
    return head[: head.rfind(b"\n") + 1], False


def _line_head(head: bytes, input_format: str, *, rows: int, whole: bool) -> Head:
    raw = io.BytesIO(head)
    header: list[str] | None = None
    if input_format == InputFormat.CSV:
        header, offset, line = csv_read_header(raw)
    else:
        offset, line = data_start(raw), 1
    span = Span(
        byte_start=offset,
        byte_end=len(head),
        start_line=line,
        first_item_number=line,
        item_count=rows,
    )
    items: list[Item] = []
    reader = read_span(raw, input_format, header=header, span=span)
    try:
        items.extend(islice(reader, rows))
    except InputRejected:
        # A quoted CSV field still open where a cut head ends may close
        # further on: the rows before it are the preview. In a whole file
        # it is the error the real run would give.
        if whole or not items:
            raise
    return Head(header=header, items=items)


def _zip_head(upload: IO[bytes], *, rows: int, max_file_bytes: int | None) -> Head:
    plan = plan_zip(upload, chunk_size=rows)
    first = plan.spans[0]
    items: Iterator[Item] = read_zip_span(upload, first, max_item_bytes=max_file_bytes)
    return Head(header=None, items=list(items))
