"""Reading CSV records: the header, records one by one (with their start lines)
and blocks of plain one-record-per-line CSV at a time."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings

from bulkyard.jobs.inputs.csvscan import UnclosedQuote, record_extent
from bulkyard.jobs.inputs.lines import (
    LineFeeder,
    OversizedLine,
    OversizedRecord,
    data_start,
    nul_error,
    plain_line_ends,
    too_large,
)
from bulkyard.jobs.kinds import InputRejected, Item, ItemError

# The csv module refuses fields over 128 KiB by default, a process-wide limit;
# a cell may be as long as the item that holds it. (The feeder hands the reader
# no record over the item limit, and the fast path no line over it.)
csv.field_size_limit(max(csv.field_size_limit(), settings.BULKYARD_MAX_ITEM_BYTES))
# Duplicate column names an error lists at most.
_SHOWN_NAMES = 10


def _new_csv_reader(feeder: LineFeeder) -> Any:
    return csv.reader(feeder, strict=True)


def _header_reader(raw: IO[bytes]) -> tuple[LineFeeder, Any]:
    start = data_start(raw)
    raw.seek(start)
    feeder = LineFeeder(raw, start=start, end=None, next_line=1)
    return feeder, _new_csv_reader(feeder)


def _first_row(reader: Any) -> list[str]:
    """The header: the first record that is not a blank line."""
    row: list[str] = []
    while not row:
        row = next(reader)
    return row


def csv_read_header(raw: IO[bytes]) -> tuple[list[str], int, int]:
    """Return ``(columns, offset after the header, number of the next line)``."""
    feeder, reader = _header_reader(raw)
    try:
        header = _first_row(reader)
    except StopIteration:
        raise InputRejected("empty_file", "the file holds no CSV header and no rows") from None
    except (OversizedLine, OversizedRecord):
        limit = settings.BULKYARD_MAX_ITEM_BYTES
        raise InputRejected(
            "invalid_header", f"line 1: the CSV header is longer than the {limit}-byte limit"
        ) from None
    except csv.Error as exc:
        raise InputRejected(
            "invalid_header", f"line 1: the CSV header is malformed: {_reason(exc)}"
        ) from exc
    columns = [column.strip() for column in header]
    _check_header(columns)
    return columns, feeder.offset, feeder.line_number + 1


def _check_header(columns: list[str]) -> None:
    try:
        "".join(columns).encode("utf-8")
    except UnicodeEncodeError:
        raise InputRejected(
            "invalid_encoding", "line 1: the CSV header is not valid UTF-8"
        ) from None
    if any(not column for column in columns):
        raise InputRejected("invalid_header", "line 1: the CSV header has an empty column name")
    # Counted once each: a header may have tens of thousands of columns.
    duplicates = sorted(column for column, count in Counter(columns).items() if count > 1)
    if duplicates:
        shown = ", ".join(duplicates[:_SHOWN_NAMES])
        if len(duplicates) > _SHOWN_NAMES:
            shown += f" and {len(duplicates) - _SHOWN_NAMES:,} more"
        raise InputRejected("invalid_header", f"line 1: duplicate column name(s): {shown}")


def header_complete_in(head: bytes) -> bool:
    """Whether ``head``, the start of a longer file, holds the whole header
    record, or enough of it for ``csv_read_header`` to refuse it whatever
    follows (malformed before the end of ``head``, or longer than the limit)."""
    feeder, reader = _header_reader(io.BytesIO(head))
    try:
        _first_row(reader)
    except StopIteration:
        return False  # nothing but blank lines so far
    except (OversizedLine, OversizedRecord):
        return True
    except csv.Error:
        return feeder.offset < len(head)  # not where the head is cut
    # The record ends with its last line, which the cut may have shortened.
    return feeder.offset < len(head) or head.endswith(b"\n")


def csv_items(
    raw: IO[bytes], *, start: int, end: int | None, next_line: int, header: list[str]
) -> Iterator[tuple[Item, tuple[int, int]]]:
    raw.seek(start)
    feeder = LineFeeder(raw, start=start, end=end, next_line=next_line)
    reader = _new_csv_reader(feeder)
    width = len(header)
    while True:
        number = feeder.line_number + 1
        record_start = feeder.offset
        feeder.record_bytes = 0
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, OversizedLine, OversizedRecord) as exc:
            yield _broken_record(feeder, record_start, number, exc), feeder.position
            # The reader's state was reset in the middle of the record.
            reader = _new_csv_reader(feeder)
            continue
        if not row or (width > 1 and len(row) == 1 and not row[0].strip()):
            continue  # a blank line is not an item
        yield _csv_item(number, row, header, width), feeder.position


def _broken_record(feeder: LineFeeder, start: int, number: int, exc: Exception) -> Item:
    """Fail the record at ``start`` that the reader could not read, as one item,
    and move ``feeder`` past it: a line inside a quoted field is never an item.
    Where the record ends is found by scanning its bytes (see ``csvscan``)."""
    try:
        extent = record_extent(feeder.raw, start)
    except UnclosedQuote as unclosed:
        raise InputRejected(
            "malformed_csv",
            f"line {number + unclosed.lines_before}: a quoted field is never closed, so the "
            "rest of the file would be read as one value",
        ) from None
    feeder.raw.seek(extent.end)
    feeder.offset = extent.end
    feeder.line_number = number + extent.lines - 1
    limit = settings.BULKYARD_MAX_ITEM_BYTES
    if isinstance(exc, OversizedLine | OversizedRecord) or extent.end - start > limit:
        if extent.lines == 1:
            return Item(number, None, too_large(number))
        message = (
            f"line {number}: a record of {extent.lines} lines, longer than the {limit}-byte limit"
        )
        return Item(number, None, ItemError("item_too_large", message))
    return Item(number, None, ItemError("malformed_csv", f"line {number}: {_reason(exc)}"))


def _reason(exc: Exception) -> str:
    message = str(exc)
    if message.startswith("new-line character seen in unquoted field"):
        # The csv module's advice (open the file with newline='') is for programmers.
        return (
            "a carriage return (CR) inside an unquoted field: quote the field, "
            "or end lines with LF or CRLF"
        )
    return message


def _csv_item(number: int, row: list[str], header: list[str], width: int) -> Item:
    joined = "".join(row)
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        readable = [
            value.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for value in row
        ]
        return Item(
            number,
            readable,
            ItemError("invalid_encoding", f"line {number} is not valid UTF-8"),
        )
    if "\x00" in joined:
        return Item(number, None, nul_error(number))
    if len(row) != width:
        return Item(
            number,
            row,
            ItemError(
                "wrong_field_count",
                f"line {number}: expected {width} fields as in the header, found {len(row)}",
            ),
        )
    return Item(number, dict(zip(header, row, strict=True)))


def plain_csv_items(
    block: bytes, *, first_number: int, header: list[str], limit: int
) -> list[Item] | None:
    """The items of a block of one-record-per-line CSV, or None if the block
    needs the line-by-line reader (see ``plain_line_ends``; also bytes
    that are not UTF-8 and NUL characters, which that reader reports)."""
    if plain_line_ends(block, len(block), offset=0, csv_format=True, limit=limit) is None:
        return None
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    lines = text.split("\n")
    lines.pop()  # the empty tail after the last newline
    width = len(header)
    items = []
    for number, row in enumerate(csv.reader(lines, strict=True), start=first_number):
        if len(row) == width:
            items.append(Item(number, dict(zip(header, row, strict=True))))
        else:
            items.append(_csv_item(number, row, header, width))
    return items
