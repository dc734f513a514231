"""Where a CSV record ends when the csv module could not read it.

The reader reads strictly, and after an error it starts afresh on the next
line: the rest of a broken record (the lines of a quoted field) would be read
as records of their own. So when it fails in the middle of a record, the
record's bytes are scanned from its start with the csv module's lenient rules
instead: a quote opens a quoted field only at the start of a field; inside
one, ``""`` is a quote and a quote followed by anything else closes it; the
record ends at the first newline outside a quoted field. The scan searches
for the few bytes that matter (C-speed ``find`` and regex searches) and only
the broken record pays for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO

_BLOCK_BYTES = 1024 * 1024
_QUOTE = ord('"')
# Outside quotes only two things matter: the end of the line (the record's
# end), and a delimiter followed by a quote (a quoted field starting).
_UNQUOTED_STOP = re.compile(rb'\n|,"')


class UnclosedQuote(Exception):
    """A quoted field runs to the end of the file."""

    def __init__(self, lines_before: int) -> None:
        # Lines between the record's first line and the one the field starts on.
        self.lines_before = lines_before


@dataclass(frozen=True, slots=True)
class RecordExtent:
    end: int  # offset of the byte after the record
    lines: int  # physical lines the record spans


def record_extent(raw: IO[bytes], start: int, *, block_bytes: int = _BLOCK_BYTES) -> RecordExtent:
    """The extent of the CSV record starting at byte ``start`` of ``raw``.

    Raises ``UnclosedQuote`` when a quoted field is still open at the end of
    the file. Reads ``raw`` a block at a time: a record can be far larger
    than the item limit (it is then failed as too large, but still as one).
    ``block_bytes`` is a parameter for the tests of what spans two blocks.
    """
    raw.seek(start)
    data = raw.read(block_bytes)
    base = start  # offset of data[0] in the file
    at = newlines = quote_line = 0
    field_start, quoted, after_quote = True, False, False
    while True:
        if at == len(data):
            base += len(data)
            data, at = raw.read(block_bytes), 0
            if not data:
                if quoted:
                    raise UnclosedQuote(quote_line)
                # The last line of the file, without a newline.
                return RecordExtent(end=base, lines=newlines + 1)
        if quoted:
            close = data.find(b'"', at)
            stop = len(data) if close < 0 else close
            newlines += data.count(b"\n", at, stop)
            at = stop if close < 0 else close + 1
            quoted, after_quote = close < 0, close >= 0
        elif after_quote:
            # '""' inside a quoted field is one quote; anything else closes it
            # and is read as the rest of an unquoted field.
            after_quote = False
            if data[at] == _QUOTE:
                quoted, at = True, at + 1
        elif field_start:
            field_start = False
            if data[at] == _QUOTE:
                quoted, quote_line, at = True, newlines, at + 1
        else:
            stop_match = _UNQUOTED_STOP.search(data, at)
            if stop_match is None:
                # A delimiter last in the block may be followed by a quote in
                # the next one.
                field_start, at = data.endswith(b","), len(data)
            elif data[stop_match.start()] == ord("\n"):
                return RecordExtent(end=base + stop_match.end(), lines=newlines + 1)
            else:
                field_start, at = True, stop_match.start() + 1
