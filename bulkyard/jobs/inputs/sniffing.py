"""Cheap checks on the first bytes of an upload, before a job exists."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from typing import IO

from django.conf import settings

from bulkyard.jobs.inputs.csvinput import csv_read_header, header_complete_in
from bulkyard.jobs.inputs.gzipped import GZIP_ERRORS, GZIP_MAGIC, is_gzip
from bulkyard.jobs.inputs.lines import UTF8_BOM
from bulkyard.jobs.kinds import InputRejected
from bulkyard.jobs.models import InputFormat

SNIFF_BYTES = 64 * 1024


def sniff_upload(upload: IO[bytes], input_format: str) -> tuple[list[str] | None, bool]:
    """``sniff`` an upload, decompressed first if it is gzip; returns the CSV
    header, if any, and whether the upload is gzip. Leaves it at its start.

    The first ``SNIFF_BYTES`` are enough but for a CSV header longer than
    that: a header cut short would give false errors (a duplicate or empty
    column name), so the head is read on until it holds the whole header
    record, up to the item limit, past which the header is refused.
    """
    upload.seek(0)
    compressed = is_gzip(upload.read(len(GZIP_MAGIC)))
    upload.seek(0)
    try:
        if not compressed:
            head, truncated = _read_head(upload.read, input_format)
        else:
            try:
                with gzip.GzipFile(fileobj=upload, mode="rb") as stream:
                    head, truncated = _read_head(stream.read, input_format)
            except GZIP_ERRORS as exc:
                raise InputRejected("invalid_gzip", f"the file is not valid gzip: {exc}") from None
    finally:
        upload.seek(0)
    return sniff(head, input_format, truncated=truncated), compressed


def _read_head(read: Callable[[int], bytes], input_format: str) -> tuple[bytes, bool]:
    """The first bytes ``read`` gives, and whether there may be more."""
    head = read(SNIFF_BYTES)
    truncated = len(head) == SNIFF_BYTES
    if input_format == InputFormat.CSV:
        # A header that is not whole within this many bytes is over the limit:
        # the header reader refuses it once it has read that far.
        most = len(UTF8_BOM) + settings.BULKYARD_MAX_ITEM_BYTES + 1
        while truncated and len(head) < most and not header_complete_in(head):
            wanted = min(len(head), most - len(head))  # doubling: few passes over the head
            more = read(wanted)
            head += more
            truncated = len(more) == wanted
    return head, truncated


def sniff(head: bytes, input_format: str, *, truncated: bool | None = None) -> list[str] | None:
    """Cheap checks on the first bytes of an upload, before a job is created.

    Catches the common mistakes (an empty file, a file wholly in another
    encoding, a file that is not CSV / JSON Lines at all) with a clear 400
    instead of a failed job. A few bad lines are left to fail one by one.
    Returns the CSV header, if any. ``truncated``: whether the file goes on
    after ``head`` (by default, if ``head`` fills the sniff window).
    """
    if truncated is None:
        truncated = len(head) >= SNIFF_BYTES
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    if not head.strip():
        raise InputRejected("empty_file", "the file is empty")
    if b"\x00" in head:
        raise InputRejected(
            "invalid_encoding",
            "the file holds NUL bytes: it looks like UTF-16 or binary, not UTF-8 text",
        )
    lines = head.split(b"\n")
    if truncated:
        lines = lines[:-1]  # the last line may be cut in the middle
    bad = [number for number, line in enumerate(lines, start=1) if not _is_utf8(line)]
    if bad and (bad[0] == 1 or len(bad) * 5 >= len(lines)):
        raise InputRejected(
            "invalid_encoding",
            f"line {bad[0]}: the file is not UTF-8 ({len(bad)} of the first {len(lines)} "
            "lines are not); save it as UTF-8 and upload it again",
        )
    texts = [line.decode("utf-8", "replace") for line in lines]
    if input_format == InputFormat.CSV:
        columns, header_end, _ = csv_read_header(io.BytesIO(head))
        if not truncated and not head[header_end:].strip():
            raise InputRejected("no_items", "the file has a CSV header but no rows")
        return columns
    first = next((n for n, text in enumerate(texts, start=1) if text.strip()), None)
    if first is not None and first not in bad:
        try:
            json.loads(texts[first - 1])
        except json.JSONDecodeError as exc:
            raise InputRejected(
                "invalid_json",
                f"line {first}: not JSON Lines ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON value",
            ) from None
        except (ValueError, RecursionError):
            pass  # JSON, holding a value the reader refuses: that item fails alone
    return None


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
