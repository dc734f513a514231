"""Pending parts: what a first-pass chunk of ``text.process`` hands to the
second pass when keywords are asked for. Each document's row of the output
file, still without its keywords, and the document's terms with their counts.

A part is a format line, then batches of up to ``BATCH_DOCUMENTS`` documents.
A batch is a header line (``documents meta_bytes rows_bytes``), its meta block
and its rows:

- the meta block is UTF-8 text. A line holds each row's length in bytes, and a
  second line where in each row its keywords cell goes. Then each document has
  two lines: its terms, separated by tabs (a term is a word, never a tab or a
  line break), and their counts (hex bytes, or decimal numbers after a "#"
  once a count reaches 256).
- the rows are the output file's rows without their keywords cell, one after
  the other. The second pass writes each row's two halves around the keywords
  it ranks. So there is no marker to search for, and none that a document's own
  id could imitate.

Why batches: the first pass encodes a batch's rows and terms one after
another, while the encoders' code and data are still in the CPU's caches. One
document at a time, between two runs of the pipeline (whose models and tables
evict them), the same work costs about half as much again. The second pass then
decodes a batch's meta block in one piece instead of three lines per document.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from bulkyard.jobs.sdk import csv_line, json_ascii, json_text

FORMAT_LINE = b"bulkyard-pending 2\n"
# The first pass handles its documents in batches that end at this many
# documents or at this much text, whichever comes first. It holds one batch in
# memory; the second pass holds a part's terms and one batch of rows.
BATCH_DOCUMENTS = 256
BATCH_CHARACTERS = 1 << 20
KEYWORDS = "keywords"


class PendingFormatError(Exception):
    """A pending part this version cannot read."""


class PendingWriter:
    """Documents waiting for their keywords, written to a pending part a batch
    at a time."""

    def __init__(self, out: IO[bytes], *, columns: Sequence[str], format: str) -> None:
        cut = list(columns).index(KEYWORDS)
        self._before = tuple(columns[:cut])
        self._after = tuple(columns[cut + 1 :])
        self._format = format
        self._out = out
        out.write(FORMAT_LINE)

    def write_batch(self, rows: Sequence[dict[str, Any]], terms: Sequence[dict[str, int]]) -> None:
        """Documents' rows (every column but their keywords) and their terms,
        as one batch."""
        if not rows:
            return
        halves = [self._halves(row) for row in rows]
        lines = [
            " ".join(str(len(head) + len(tail)) for head, tail in halves),
            " ".join(str(len(head)) for head, _ in halves),
        ]
        for counts in terms:
            lines.append("\t".join(counts))
            lines.append(_counts_text(counts))
        meta = ("\n".join(lines) + "\n").encode()
        data = b"".join(piece for pair in halves for piece in pair)
        self._out.write(b"%d %d %d\n" % (len(halves), len(meta), len(data)))
        self._out.write(meta)
        self._out.write(data)

    def _halves(self, row: dict[str, Any]) -> tuple[bytes, bytes]:
        """The row's bytes before and after its keywords cell. Together with
        the keywords, they are the line ``write_rows`` would write."""
        if self._format == "csv":
            # An empty cell on the cut side keeps each half's separator, and
            # keeps the writer from quoting a lone empty cell.
            head = csv_line((*csv_cells(row, self._before), ""))[:-1]
            tail = csv_line(("", *csv_cells(row, self._after)))
            return head.encode(), tail.encode()
        before = {column: row.get(column) for column in self._before}
        after = {column: row.get(column) for column in self._after}
        # The text is in the second half: worth telling the encoder it is ASCII.
        after_text = json_text(after, ascii_only=_ascii_only(after))
        return (
            f'{json_text(before)[:-1]}, "{KEYWORDS}": '.encode(),
            f", {after_text[1:]}\n".encode(),
        )


def _ascii_only(value: Any) -> bool:
    """Whether every string in ``value``, through dicts and lists, passes
    ``json_ascii``; False for types JSON does not have, which the UTF-8
    encoder handles."""
    if isinstance(value, str):
        return json_ascii(value)
    if isinstance(value, dict):
        return all(_ascii_only(key) and _ascii_only(inner) for key, inner in value.items())
    if isinstance(value, list):
        return all(map(_ascii_only, value))
    return value is None or isinstance(value, int | float)


def _counts_text(counts: dict[str, int]) -> str:
    """A document's term counts: hex bytes when all are under 256 (nearly
    always; a seventh of the cost of decimal numbers to write and half to
    read), else decimal after a "#"."""
    try:
        return bytes(counts.values()).hex()
    except ValueError:
        return "#" + " ".join(map(str, counts.values()))


def _counts(text: str) -> Iterable[int]:
    if text.startswith("#"):
        return map(int, text[1:].split())
    return bytes.fromhex(text)


def keywords_cell(found: list[str], format: str) -> bytes:
    """The keywords cell that goes between a row's two halves."""
    if format != "csv":
        return json_text(found).encode()
    if not found:
        return b""  # an empty cell in a row of several cells is written as nothing
    return csv_line(tuple(csv_cells({KEYWORDS: found}, (KEYWORDS,))))[:-1].encode()


def csv_cells(row: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    """A row's cells for CSV: lists joined with "; ", counts as ``type=n``."""
    cells = []
    for column in columns:
        value = row.get(column)
        if isinstance(value, list):
            value = "; ".join(map(str, value))
        elif isinstance(value, dict):
            value = "; ".join(f"{key}={count}" for key, count in value.items())
        cells.append(value)
    return cells


@dataclass(slots=True)
class PendingBatch:
    terms: list[dict[str, int]]
    lengths: list[int]
    cuts: list[int]
    # Where the batch's rows start in the part, and how many bytes they take.
    rows_at: int
    rows_bytes: int

    def rows(self, source: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
        """Each row's halves, read from ``source``."""
        source.seek(self.rows_at)
        rows = source.read(self.rows_bytes)
        start = 0
        for length, cut in zip(self.lengths, self.cuts, strict=True):
            yield rows[start : start + cut], rows[start + cut : start + length]
            start += length


def pending_batches(source: IO[bytes]) -> Iterator[PendingBatch]:
    """The batches of a pending part, their terms decoded and their rows not
    read (``PendingBatch.rows``)."""
    if source.readline() != FORMAT_LINE:
        raise PendingFormatError(
            "a pending part of this job was written by another version of Bulkyard; "
            "run the job again"
        )
    while header := source.readline():
        documents, meta_bytes, rows_bytes = map(int, header.split())
        lines = source.read(meta_bytes).decode().split("\n")
        terms = [
            dict(zip(names.split("\t"), _counts(counts), strict=True)) if names else {}
            for names, counts in zip(lines[2:-1:2], lines[3::2], strict=True)
        ]
        batch = PendingBatch(
            terms=terms,
            lengths=list(map(int, lines[0].split())),
            cuts=list(map(int, lines[1].split())),
            rows_at=source.tell(),
            rows_bytes=rows_bytes,
        )
        if not len(batch.terms) == len(batch.lengths) == len(batch.cuts) == documents:
            raise PendingFormatError(f"a batch of a pending part is damaged: {header!r}")
        source.seek(rows_bytes, io.SEEK_CUR)
        yield batch
