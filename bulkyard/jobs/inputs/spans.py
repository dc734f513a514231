"""Planning cuts an input into spans of whole items; ``read_span`` reads one
span back. Both see the same items: planning reads them the same way, or
counts them in bulk where the file is plain (one item per line)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from bulkyard.core.storage import expect_range
from bulkyard.jobs.inputs.csvinput import csv_items, csv_read_header, plain_csv_items
from bulkyard.jobs.inputs.jsonlinput import jsonl_items
from bulkyard.jobs.inputs.lines import data_start, plain_line_ends
from bulkyard.jobs.kinds import Item
from bulkyard.jobs.models import InputFormat

# Planning reads the file in blocks this big and counts lines where it can.
PLAN_BLOCK_BYTES = 4 * 1024 * 1024


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
        return csv_items(raw, start=start, end=end, next_line=start_line, header=header)
    envelope = input_format == InputFormat.RETRY
    return jsonl_items(raw, start=start, end=end, next_line=start_line, envelope=envelope)


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
            ends = plain_line_ends(
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
        offset, line = data_start(raw), 1
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


def item_extents(
    raw: IO[bytes], input_format: str, *, header: list[str] | None, span: Span
) -> Iterator[tuple[Item, int, int]]:
    """Each item of a span with its bytes ``[start, end)`` in the file: from
    the end of the item before it (blank lines before it included) to its own
    end, newline included. Read item by item, as ``read_span`` reads the
    span when its fast path cannot."""
    start = span.byte_start
    for item, (end, _) in _items(
        raw,
        input_format,
        header=header,
        start=span.byte_start,
        end=span.byte_end,
        start_line=span.start_line,
    ):
        yield item, start, end
        start = end


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
    expect_range(raw, start=span.byte_start, end=span.byte_end)
    offset, line = span.byte_start, span.start_line
    while offset < span.byte_end:
        block = b""
        if plain:
            raw.seek(offset)
            data = raw.read(min(block_bytes, span.byte_end - offset))
            block = data[: data.rfind(b"\n") + 1]
            assert header is not None
            items = plain_csv_items(block, first_number=line, header=header, limit=limit)
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
