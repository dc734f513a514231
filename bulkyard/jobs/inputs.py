"""Reading and splitting job inputs (CSV, JSON Lines) without loading them whole.

Planning walks the file once and cuts it into spans of whole items, each
recorded by byte offsets; a chunk later seeks straight to its span. Items are
numbered by the line they start on, so every error names a line the user can
find in their own file. Bad bytes, bad JSON or a wrong number of CSV fields
fail that one item; only a structural break that swallows the rest of the file
(a quote that is never closed) fails the whole input.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings

from bulkyard.jobs.kinds import InputRejected, Item, ItemError
from bulkyard.jobs.models import InputFormat

UTF8_BOM = codecs.BOM_UTF8
# Codes of items the reader could not turn into data. Retrying them is
# pointless: the same bytes fail the same way.
READER_ERROR_CODES = frozenset(
    {
        "invalid_encoding",
        "invalid_json",
        "invalid_characters",
        "wrong_field_count",
        "malformed_csv",
        "item_too_large",
    }
)
SNIFF_BYTES = 64 * 1024
# Planning reads the file in blocks this big and counts lines where it can.
PLAN_BLOCK_BYTES = 4 * 1024 * 1024
# A line holding nothing but whitespace (or only non-ASCII bytes, which could
# be Unicode whitespace): the reader may skip it, so the block is read in full.
# Starting with a literal, the search tries it at newlines only; the block's
# first line is matched on its own.
_BLANKISH = rb"[ \t\r\x0b\x0c\x1c-\x1f\x80-\xff]*\n"
_BLANKISH_LINE = re.compile(rb"\n" + _BLANKISH)
_BLANKISH_FIRST_LINE = re.compile(_BLANKISH)
# A carriage return not ending a line (CRLF ends are the csv module's default);
# a regex search: a quarter of the time of comparing two counts.
_LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass(frozen=True, slots=True)
class Span:
    byte_start: int
    byte_end: int
    # Number of the physical line at byte_start (blank lines may precede the
    # first item, so it can differ from first_item_number).
    start_line: int
    first_item_number: int
    item_count: int


@dataclass(frozen=True, slots=True)
class Plan:
    header: list[str] | None
    spans: list[Span]

    @property
    def total_items(self) -> int:
        return sum(span.item_count for span in self.spans)


class _OversizedLine(Exception):
    def __init__(self, line_number: int) -> None:
        self.line_number = line_number


class _OversizedRecord(Exception):
    """A record that runs over many lines past the size limit."""


class _LineFeeder:
    """Hands decoded lines to ``csv.reader`` while counting bytes and lines.

    ``csv.reader`` pulls exactly the lines one record needs, so after each
    record ``offset`` is where the next one starts. Bytes are decoded with
    ``surrogateescape`` so one bad line cannot stop the reader; the record it
    belongs to is failed afterwards.
    """

    def __init__(
        self,
        raw: IO[bytes],
        *,
        start: int,
        end: int | None,
        next_line: int,
        limited: bool = True,
    ) -> None:
        self.raw = raw
        self.offset = start
        self.end = end
        self.line_number = next_line - 1
        # Our own retry files are exempt: their envelope may push a line that
        # was within the limit in the user's file over it.
        self.max_bytes: int | None = settings.BULKYARD_MAX_ITEM_BYTES if limited else None
        # Bytes of the record being read; the reader resets it per record.
        self.record_bytes = 0

    @property
    def position(self) -> tuple[int, int]:
        """Byte offset and line number of the next line to read."""
        return self.offset, self.line_number + 1

    def __iter__(self) -> _LineFeeder:
        return self

    def __next__(self) -> str:
        if self.end is not None and self.offset >= self.end:
            raise StopIteration
        limit = self.max_bytes
        line = self.raw.readline(-1 if limit is None else limit + 1)
        if not line:
            raise StopIteration
        self.offset += len(line)
        self.line_number += 1
        first_of_record = self.record_bytes == 0
        self.record_bytes += len(line)
        if limit is not None:
            if len(line) > limit and not line.endswith(b"\n"):
                self.offset += _skip_rest_of_line(self.raw)
                if first_of_record:
                    raise _OversizedLine(self.line_number)
                raise _OversizedRecord
            if self.record_bytes > limit:
                raise _OversizedRecord
        return line.decode("utf-8", errors="surrogateescape")


def _skip_rest_of_line(raw: IO[bytes]) -> int:
    skipped = 0
    while True:
        piece = raw.readline(1024 * 1024)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def _data_start(raw: IO[bytes]) -> int:
    raw.seek(0)
    return len(UTF8_BOM) if raw.read(len(UTF8_BOM)) == UTF8_BOM else 0


def _too_large(number: int) -> ItemError:
    limit = settings.BULKYARD_MAX_ITEM_BYTES
    return ItemError("item_too_large", f"line {number} is longer than the {limit}-byte limit")


def _new_csv_reader(feeder: _LineFeeder) -> Any:
    return csv.reader(feeder, strict=True)


def csv_read_header(raw: IO[bytes]) -> tuple[list[str], int, int]:
    """Return ``(columns, offset after the header, number of the next line)``."""
    start = _data_start(raw)
    raw.seek(start)
    feeder = _LineFeeder(raw, start=start, end=None, next_line=1)
    reader = _new_csv_reader(feeder)
    try:
        header: list[str] = []
        while not header:
            header = next(reader)
    except StopIteration:
        raise InputRejected("empty_file", "the file holds no CSV header and no rows") from None
    except _OversizedLine:
        raise InputRejected("invalid_header", "the CSV header line is too long") from None
    except csv.Error as exc:
        raise InputRejected(
            "invalid_header", f"line 1: the CSV header is malformed: {exc}"
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
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InputRejected(
            "invalid_header", f"line 1: duplicate column name(s): {', '.join(duplicates)}"
        )


def _csv_items(
    raw: IO[bytes], *, start: int, end: int | None, next_line: int, header: list[str]
) -> Iterator[tuple[Item, tuple[int, int]]]:
    raw.seek(start)
    feeder = _LineFeeder(raw, start=start, end=end, next_line=next_line)
    reader = _new_csv_reader(feeder)
    width = len(header)
    while True:
        number = feeder.line_number + 1
        feeder.record_bytes = 0
        try:
            row = next(reader)
        except StopIteration:
            return
        except _OversizedRecord:
            limit = settings.BULKYARD_MAX_ITEM_BYTES
            raise InputRejected(
                "record_too_large",
                f"line {number}: a CSV record runs on over more than {limit} bytes; "
                "a quote is probably not closed",
            ) from None
        except _OversizedLine as exc:
            reader = _new_csv_reader(feeder)
            yield Item(exc.line_number, None, _too_large(exc.line_number)), feeder.position
            continue
        except csv.Error as exc:
            if feeder.end is None and "unexpected end of data" in str(exc):
                raise InputRejected(
                    "malformed_csv",
                    f"line {number}: a quoted field is never closed, so the rest of the "
                    "file would be read as one value",
                ) from exc
            error = ItemError("malformed_csv", f"line {number}: {exc}")
            yield Item(number, None, error), feeder.position
            continue
        if not row or (width > 1 and len(row) == 1 and not row[0].strip()):
            continue  # a blank line is not an item
        yield _csv_item(number, row, header, width), feeder.position


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
        return Item(number, None, _nul_error(number))
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


def _jsonl_items(
    raw: IO[bytes], *, start: int, end: int | None, next_line: int, envelope: bool
) -> Iterator[tuple[Item, tuple[int, int]]]:
    raw.seek(start)
    feeder = _LineFeeder(raw, start=start, end=end, next_line=next_line, limited=not envelope)
    while True:
        feeder.record_bytes = 0
        try:
            line = next(feeder)
        except StopIteration:
            return
        except _OversizedLine as exc:
            yield Item(exc.line_number, None, _too_large(exc.line_number)), feeder.position
            continue
        if not line.strip():
            continue
        yield _jsonl_item(feeder.line_number, line, envelope), feeder.position


def _jsonl_item(number: int, line: str, envelope: bool) -> Item:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return Item(
            number, None, ItemError("invalid_encoding", f"line {number} is not valid UTF-8")
        )
    try:
        data = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return Item(
            number,
            None,
            ItemError("invalid_json", f"line {number}: {exc.msg} (column {exc.colno})"),
        )
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        return Item(number, None, ItemError("invalid_json", f"line {number}: {message}"))
    if "\\u" in line and _has_unstorable_text(data):
        return Item(number, None, _nul_error(number))
    if envelope:
        return Item(int(data["n"]), data["item"])
    return Item(number, data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_unstorable_text(value: Any) -> bool:
    """True if a string holds NUL or a lone surrogate, which databases refuse."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(v) for v in value)
    return False


def _nul_error(number: int) -> ItemError:
    return ItemError(
        "invalid_characters",
        f"line {number} holds a NUL character or a lone UTF-16 surrogate, which cannot be stored",
    )


def _items(
    raw: IO[bytes],
    input_format: str,
    *,
    header: list[str] | None,
    start: int,
    end: int | None,
    start_line: int,
) -> Iterator[tuple[Item, tuple[int, int]]]:
    if input_format == InputFormat.CSV:
        assert header is not None
        return _csv_items(raw, start=start, end=end, next_line=start_line, header=header)
    envelope = input_format == InputFormat.RETRY
    return _jsonl_items(raw, start=start, end=end, next_line=start_line, envelope=envelope)


def _plain_line_ends(
    data: bytes, end: int, *, offset: int, csv_format: bool, limit: int
) -> list[int] | None:
    """Where each line of ``data[:end]`` (which ends with a newline) ends, as
    offsets in the file (``data`` starts at ``offset``), when each line is
    exactly one item; None when the block needs the full reader: a quote (a
    CSV record may run over several lines), a lone carriage return, a blank or
    whitespace-only line (not an item), a line over the size limit (an error
    of its own).

    ``data`` is searched in place, up to ``end``: planning a 200 MB file spent
    a third of its time copying its 4 MB blocks (into memory the system had to
    hand over anew each time) before splitting them into lines."""
    if not end:
        return None
    if csv_format and (
        data.find(b'"', 0, end) >= 0
        or (data.find(b"\r", 0, end) >= 0 and _LONE_CR.search(data, 0, end))
    ):
        return None
    if _BLANKISH_FIRST_LINE.match(data, 0, end) or _BLANKISH_LINE.search(data, 0, end):
        return None
    ends: list[int] = []
    append, find = ends.append, data.find
    start = 0
    while start < end:
        after = find(b"\n", start, end) + 1
        if after - start > limit:
            return None
        append(offset + after)
        start = after
    return ends


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive items as planning sees them: item ``i`` of the run is
    numbered ``first_number + i``, ends at byte ``ends[i]`` and is followed by
    line ``line_after_first + i``."""

    first_number: int
    ends: list[int]
    line_after_first: int


def _item_runs(
    raw: IO[bytes],
    input_format: str,
    *,
    header: list[str] | None,
    start: int,
    start_line: int,
    block_bytes: int,
) -> Iterator[_Run]:
    """Where every item from ``start`` ends: what the item reader would give,
    without decoding items where the file is plain (one item per line, which
    is most files): those blocks come as one run of many items."""
    plain = input_format in (InputFormat.CSV, InputFormat.JSONL) and block_bytes > 0
    limit = settings.BULKYARD_MAX_ITEM_BYTES
    offset, line = start, start_line
    while True:
        if plain:
            raw.seek(offset)
            data = raw.read(block_bytes)
            if not data:
                return
            whole_lines = data.rfind(b"\n") + 1
            ends = _plain_line_ends(
                data,
                whole_lines,
                offset=offset,
                csv_format=input_format == InputFormat.CSV,
                limit=limit,
            )
            if ends is not None:
                yield _Run(first_number=line, ends=ends, line_after_first=line + 1)
                offset, line = ends[-1], line + len(ends)
                continue
            # Read item by item up to the end of this block, then try again.
            block_end = offset + (whole_lines or len(data))
        for item, (after, next_line) in _items(
            raw, input_format, header=header, start=offset, end=None, start_line=line
        ):
            yield _Run(first_number=item.number, ends=[after], line_after_first=next_line)
            offset, line = after, next_line
            if plain and offset >= block_end:
                break
        else:
            return


def plan_input(
    raw: IO[bytes],
    input_format: str,
    *,
    chunk_size: int,
    max_chunks: int | None = None,
    block_bytes: int = PLAN_BLOCK_BYTES,
) -> Plan:
    """Walk the whole input once and cut it into spans of ``chunk_size`` items.

    With ``max_chunks``, neighbouring spans are merged (doubling the chunk
    size) whenever there would be more, so a huge file of tiny items cannot
    create millions of chunks and messages. ``block_bytes`` = 0 reads every
    item in full (the reference the fast path is tested against).
    """
    max_chunks = max_chunks or settings.BULKYARD_MAX_CHUNKS_PER_JOB
    header: list[str] | None = None
    if input_format == InputFormat.CSV:
        header, offset, line = csv_read_header(raw)
    else:
        offset, line = _data_start(raw), 1
    spans: list[Span] = []
    span_start: tuple[int, int] | None = None
    span_first = count = 0
    for run in _item_runs(
        raw, input_format, header=header, start=offset, start_line=line, block_bytes=block_bytes
    ):
        taken, available = 0, len(run.ends)
        while taken < available:
            if span_start is None:
                # A span begins where the previous one ended, blank lines included.
                span_start, span_first, count = (offset, line), run.first_number + taken, 0
            step = min(chunk_size - count, available - taken)
            taken += step
            count += step
            offset, line = run.ends[taken - 1], run.line_after_first + taken - 1
            if count == chunk_size:
                spans.append(Span(span_start[0], offset, span_start[1], span_first, count))
                span_start = None
                if len(spans) >= 2 * max_chunks:
                    spans = _merge_pairs(spans)
                    chunk_size *= 2
    if span_start is not None:
        spans.append(Span(span_start[0], offset, span_start[1], span_first, count))
    while len(spans) > max_chunks:
        spans = _merge_pairs(spans)
    return Plan(header=header, spans=spans)


def _merge_pairs(spans: list[Span]) -> list[Span]:
    merged = []
    for first, second in zip(spans[::2], spans[1::2], strict=False):
        merged.append(
            Span(
                first.byte_start,
                second.byte_end,
                first.start_line,
                first.first_item_number,
                first.item_count + second.item_count,
            )
        )
    if len(spans) % 2:
        merged.append(spans[-1])
    return merged


def read_span(
    raw: IO[bytes],
    input_format: str,
    *,
    header: list[str] | None,
    span: Span,
    block_bytes: int = PLAN_BLOCK_BYTES,
) -> Iterator[Item]:
    """The items of one span, as planning cut it. Plain CSV blocks (one
    record per line, valid UTF-8) are decoded and parsed a block at a time;
    the rest line by line. ``block_bytes`` = 0 reads everything line by line
    (the reference the fast path is tested against)."""
    plain = input_format == InputFormat.CSV and block_bytes > 0
    limit = settings.BULKYARD_MAX_ITEM_BYTES
    offset, line = span.byte_start, span.start_line
    while offset < span.byte_end:
        block = b""
        if plain:
            raw.seek(offset)
            data = raw.read(min(block_bytes, span.byte_end - offset))
            block = data[: data.rfind(b"\n") + 1]
            assert header is not None
            items = _plain_csv_items(block, first_number=line, header=header, limit=limit)
            if items is not None:
                yield from items
                offset, line = offset + len(block), line + len(items)
                continue
            block_end = offset + (len(block) or len(data))
        for item, (after, next_line) in _items(
            raw, input_format, header=header, start=offset, end=span.byte_end, start_line=line
        ):
            yield item
            offset, line = after, next_line
            if plain and offset >= block_end:
                break
        else:
            return


def _plain_csv_items(
    block: bytes, *, first_number: int, header: list[str], limit: int
) -> list[Item] | None:
    """The items of a block of one-record-per-line CSV, or None if the block
    needs the line-by-line reader (see ``_plain_line_ends``; also bytes
    that are not UTF-8 and NUL characters, which that reader reports)."""
    if _plain_line_ends(block, len(block), offset=0, csv_format=True, limit=limit) is None:
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


GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def is_gzip(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC)


def gunzip_head(compressed: IO[bytes]) -> bytes:
    """The first decompressed bytes of a gzip upload, for ``sniff``."""
    try:
        with gzip.GzipFile(fileobj=compressed, mode="rb") as stream:
            return stream.read(SNIFF_BYTES)
    except _GZIP_ERRORS as exc:
        raise InputRejected("invalid_gzip", f"the file is not valid gzip: {exc}") from None
    finally:
        compressed.seek(0)


def gunzip(source: IO[bytes], target: IO[bytes]) -> int:
    """Decompress a gzip input in bounded pieces; returns the bytes written.

    Refuses a stream that is corrupt or truncated, and one that grows past
    ``BULKYARD_MAX_DECOMPRESSED_BYTES`` (a decompression bomb), before any
    item is processed.
    """
    limit = settings.BULKYARD_MAX_DECOMPRESSED_BYTES
    written = 0
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as stream:
            while piece := stream.read(1024 * 1024):
                written += len(piece)
                if written > limit:
                    raise InputRejected(
                        "decompressed_too_large",
                        f"the file decompresses to more than {limit} bytes",
                    )
                target.write(piece)
    except _GZIP_ERRORS as exc:
        raise InputRejected(
            "invalid_gzip", f"the gzip stream is corrupt after {written} bytes: {exc}"
        ) from None
    return written


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
        except RecursionError:
            raise InputRejected("invalid_json", f"line {first}: nested too deeply") from None
    return None


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
