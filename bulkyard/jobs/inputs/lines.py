"""What the CSV and JSON Lines readers share: a feeder that hands them lines
while counting bytes and lines, the item size limit, and the test for blocks
of plain lines (one item per line) that planning and reading take in bulk."""

from __future__ import annotations

import codecs
import re
from typing import IO

from django.conf import settings

from bulkyard.jobs.kinds import ItemError

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
        "nested_too_deeply",
    }
)

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


class OversizedLine(Exception):
    def __init__(self, line_number: int) -> None:
        self.line_number = line_number


class OversizedRecord(Exception):
    """A record that runs over many lines past the size limit."""


class LineFeeder:
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

    def __iter__(self) -> LineFeeder:
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
                    raise OversizedLine(self.line_number)
                raise OversizedRecord
            if self.record_bytes > limit:
                raise OversizedRecord
        return line.decode("utf-8", errors="surrogateescape")


def _skip_rest_of_line(raw: IO[bytes]) -> int:
    skipped = 0
    while True:
        piece = raw.readline(1024 * 1024)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def data_start(raw: IO[bytes]) -> int:
    raw.seek(0)
    return len(UTF8_BOM) if raw.read(len(UTF8_BOM)) == UTF8_BOM else 0


def too_large(number: int) -> ItemError:
    limit = settings.BULKYARD_MAX_ITEM_BYTES
    return ItemError("item_too_large", f"line {number} is longer than the {limit}-byte limit")


def nul_error(number: int) -> ItemError:
    return ItemError(
        "invalid_characters",
        f"line {number} holds a NUL character or a lone UTF-16 surrogate, which cannot be stored",
    )


def plain_line_ends(
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
