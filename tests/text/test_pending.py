"""Pending parts: rows waiting for their keywords, and their documents' terms,
written by the first pass and read back by the second."""

import io

import pytest

from bulkyard.jobs.parts import write_rows
from bulkyard.text.first_pass import file_row
from bulkyard.text.pending import (
    PendingFormatError,
    PendingWriter,
    keywords_cell,
    pending_batches,
)

COLUMNS = ("item", "id", "words", "keywords", "redactions", "text")

ROWS = [
    {"item": 1, "id": "plain", "words": 2, "redactions": {"email": 1}, "text": "Garden hose."},
    {"item": 2, "id": 7, "words": 0, "redactions": {}, "text": ""},
    {"item": 3, "id": None, "words": 3, "redactions": {"ip": 2}, "text": 'A "quoted", text'},
    {"item": 4, "id": "=cmd", "words": 2, "redactions": {}, "text": "line one\nline two\r\n"},
    {"item": 5, "id": "x,y", "words": 2, "redactions": {}, "text": "Überprüfung 用于检查"},
    {"item": 6, "id": "", "words": 1, "redactions": {}, "text": "=SUM(A1)"},
    {"item": 7, "id": "ctl", "words": 1, "redactions": {}, "text": "bell\x07 del\x7f tab\t"},
]
KEYWORDS = [["garden", "hose"], [], ["quoted"], ["line", "two"], ["überprüfung"], ["sum"], ["bell"]]


def _written(*batches, format):
    """A pending part of these batches, each a (rows, terms) pair."""
    out = io.BytesIO()
    writer = PendingWriter(out, columns=COLUMNS, format=format)
    for rows, terms in batches:
        writer.write_batch(rows, terms)
    out.seek(0)
    return out


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_rows_put_together_with_their_keywords_are_the_lines_write_rows_writes(format):
    source = _written((ROWS[:2], [{}, {}]), (ROWS[2:], [{} for _ in ROWS[2:]]), format=format)

    batches = list(pending_batches(source))
    rows = [halves for batch in batches for halves in batch.rows(source)]
    assembled = b"".join(
        head + keywords_cell(found, format) + tail
        for (head, tail), found in zip(rows, KEYWORDS, strict=True)
    )

    expected = io.StringIO(newline="")
    write_rows(
        [
            file_row({**row, "keywords": found}, COLUMNS, format)
            for row, found in zip(ROWS, KEYWORDS, strict=True)
        ],
        expected,
        fields=COLUMNS,
        format=format,
    )
    assert assembled.decode() == expected.getvalue()


def test_terms_come_back_with_their_counts_in_their_documents_order():
    terms = [{"garden": 2, "hose": 1}, {}, {"überprüfung": 1, "it's": 255}]

    source = _written((ROWS[:3], terms), format="jsonl")

    assert [found for batch in pending_batches(source) for found in batch.terms] == terms


def test_counts_of_256_and_more_come_back_too():
    terms = [{"garden": 256, "hose": 1}, {"river": 100_000}]

    source = _written((ROWS[:2], terms), format="jsonl")

    assert [found for batch in pending_batches(source) for found in batch.terms] == terms


def test_a_part_in_another_format_is_refused_with_a_message_that_says_what_to_do():
    older = io.BytesIO(b"garden\those\n2 1\n12\n{...}\n")

    with pytest.raises(PendingFormatError, match="another version of Bulkyard; run the job again"):
        list(pending_batches(older))


def test_a_batch_whose_counts_disagree_is_refused():
    source = _written((ROWS[:2], [{}, {}]), format="jsonl")
    damaged = io.BytesIO(source.getvalue().replace(b"\n2 ", b"\n3 ", 1))

    with pytest.raises(PendingFormatError, match="damaged"):
        list(pending_batches(damaged))
