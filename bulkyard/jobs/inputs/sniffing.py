"""Cheap checks on the first bytes of an upload, before a job exists."""

from __future__ import annotations

import gzip
import io
import json
from typing import IO

from bulkyard.jobs.inputs.csvinput import csv_read_header
from bulkyard.jobs.inputs.gzipped import GZIP_ERRORS
from bulkyard.jobs.inputs.lines import UTF8_BOM
from bulkyard.jobs.kinds import InputRejected
from bulkyard.jobs.models import InputFormat

SNIFF_BYTES = 64 * 1024


def gunzip_head(compressed: IO[bytes]) -> bytes:
    """The first decompressed bytes of a gzip upload, for ``sniff``."""
    try:
        with gzip.GzipFile(fileobj=compressed, mode="rb") as stream:
            return stream.read(SNIFF_BYTES)
    except GZIP_ERRORS as exc:
        raise InputRejected("invalid_gzip", f"the file is not valid gzip: {exc}") from None
    finally:
        compressed.seek(0)


def sniff(head: bytes, input_format: str) -> list[str] | None:
    """Cheap checks on the first bytes of an upload, before a job is created.

    Catches the common mistakes (an empty file, a file wholly in another
    encoding, a file that is not CSV / JSON Lines at all) with a clear 400
    instead of a failed job. A few bad lines are left to fail one by one.
    Returns the CSV header, if any.
    """
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
        columns, _, _ = csv_read_header(io.BytesIO(head))
        if not truncated and not any(text.strip() for text in texts[1:]):
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
