"""Files holding only some items of an input, in the input's own format: the
items of a cancelled job that never ran (``GET /jobs/{id}/results/?outcome=unprocessed``),
for the client to submit again.

- CSV and JSON Lines are copied byte for byte from the stored input: a CSV's
  header record first, then the chosen records as they are in the file
  (quoting, line ends, cells spanning lines, bad bytes unchanged). Spans
  taken whole are copied in blocks; a span some of whose items ran is read
  item by item to find the bytes of each of the others.
- A retry file (the engine's own JSON Lines of ``{"n", "item"}``) becomes JSON
  Lines of its items: a file a client can submit.
- ZIP archives: ``zipcopy``.

Memory stays flat whatever the input's size: blocks of ``COPY_BLOCK_BYTES``,
and at most the byte ranges of one chunk's items at a time.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from bulkyard.jobs.inputs.csvinput import csv_read_header
from bulkyard.jobs.inputs.lines import data_start
from bulkyard.jobs.inputs.spans import Span, item_extents
from bulkyard.jobs.models import InputFormat

logger = logging.getLogger(__name__)

COPY_BLOCK_BYTES = 1024 * 1024
# Lines of a retry file's items written per piece of the download.
_LINES_PER_PIECE = 2000


@dataclass(frozen=True, slots=True)
class Remainder:
    """The items of one planned span to take: all of them, or all but those
    whose numbers fall in ``done`` (sorted ``[first, last]`` ranges)."""

    span: Span
    done: Sequence[Sequence[int]] = ()

    def takes(self, number: int) -> bool:
        """Whether item ``number`` of the span is one to take."""
        if not self.done:
            return True
        after = bisect.bisect_right(self.done, number, key=lambda pair: pair[0])
        return after == 0 or self.done[after - 1][1] < number


def extract_lines(
    raw: IO[bytes],
    input_format: str,
    remainders: Sequence[Remainder] | None,
    *,
    header: list[str] | None,
) -> Iterator[bytes]:
    """A CSV, JSON Lines or retry input cut down to the remainders' items, in
    input order; the whole input for ``None``."""
    if input_format == InputFormat.RETRY:
        if remainders is None:
            end = raw.seek(0, 2)
            remainders = [Remainder(Span(data_start(raw), end, 1, 0, 0))]
        return _retry_items(raw, remainders)
    if remainders is None:
        return copy_ranges(raw, [(0, raw.seek(0, 2))])
    head: list[tuple[int, int]] = []
    if input_format == InputFormat.CSV:
        # The header record as the file has it (a byte order mark included).
        head.append((0, csv_read_header(raw)[1]))
    return copy_ranges(raw, _merged(_ranges(raw, input_format, remainders, head, header)))


def _ranges(
    raw: IO[bytes],
    input_format: str,
    remainders: Sequence[Remainder],
    head: list[tuple[int, int]],
    header: list[str] | None,
) -> Iterator[tuple[int, int]]:
    yield from head
    for remainder in remainders:
        span = remainder.span
        if not remainder.done:
            yield span.byte_start, span.byte_end
            continue
        # Listed before any of it is copied: the reader and the copy share the file.
        yield from [
            (start, end)
            for item, start, end in item_extents(raw, input_format, header=header, span=span)
            if remainder.takes(item.number)
        ]


def _merged(ranges: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Touching byte ranges as one: neighbouring chunks are copied in one go."""
    current: tuple[int, int] | None = None
    for start, end in ranges:
        if current is not None and current[1] == start:
            current = (current[0], end)
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def copy_ranges(raw: IO[bytes], ranges: Iterable[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes of each range ``[start, end)`` of ``raw``, in blocks."""
    for start, end in ranges:
        position = start
        while position < end:
            # Seek each time: listing the next ranges may have read the file.
            raw.seek(position)
            block = raw.read(min(COPY_BLOCK_BYTES, end - position))
            if not block:
                raise OSError(f"the input ends at byte {position}, before byte {end}")
            position += len(block)
            yield block


def _retry_items(raw: IO[bytes], remainders: Sequence[Remainder]) -> Iterator[bytes]:
    lines: list[bytes] = []
    for remainder in remainders:
        span = remainder.span
        for item, _, _ in item_extents(raw, InputFormat.RETRY, header=None, span=span):
            if not remainder.takes(item.number):
                continue
            if item.error is not None:
                # The engine wrote the file from stored results: never seen.
                logger.warning("a retry file's item %s is unreadable: %s", item.number, item.error)
                continue
            lines.append(json.dumps(item.data, ensure_ascii=False).encode() + b"\n")
            if len(lines) >= _LINES_PER_PIECE:
                yield b"".join(lines)
                lines = []
    if lines:
        yield b"".join(lines)
