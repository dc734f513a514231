"""Where a CSV record ends by the csv module's lenient rules
(bulkyard/jobs/inputs/csvscan.py)."""

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkyard.jobs.inputs.csvscan import RecordExtent, UnclosedQuote, record_extent


def _extent(content: bytes, start: int = 0, block_bytes: int = 1024) -> RecordExtent:
    return record_extent(io.BytesIO(content), start, block_bytes=block_bytes)


def test_a_record_ends_at_the_first_newline_outside_a_quoted_field():
    content = b'1,"two\nlines, ""quoted"""\nnext\n'

    assert _extent(content) == RecordExtent(end=content.index(b"next"), lines=2)


def test_a_quote_inside_an_unquoted_field_opens_nothing():
    assert _extent(b'1,x"y\n"z\n') == RecordExtent(end=6, lines=1)


def test_a_quote_followed_by_other_text_closes_the_quoted_field():
    assert _extent(b'"abc"x,"multi\nline"\nnext\n') == RecordExtent(end=20, lines=2)


def test_a_carriage_return_is_text_to_the_scan():
    assert _extent(b'1\rx,"multi\nline"\nnext\n') == RecordExtent(end=17, lines=2)


def test_the_last_record_may_end_without_a_newline():
    assert _extent(b'a,b\n"x\ny"', start=4) == RecordExtent(end=9, lines=2)


def test_a_quoted_field_open_at_the_end_of_the_file_names_the_line_it_starts_on():
    with pytest.raises(UnclosedQuote) as caught:
        _extent(b'1,"two\nlines","open\nmore\n')

    assert caught.value.lines_before == 1


@pytest.mark.parametrize("block_bytes", range(1, 9))
def test_what_spans_two_blocks_is_read_as_one(block_bytes):
    content = b'ab,"c""d\ne",f,"g"\nnext\n'

    assert _extent(content, block_bytes=block_bytes) == RecordExtent(
        end=content.index(b"next"), lines=2
    )


# Without carriage returns, the csv module's lenient reader never raises: the
# scan must end every record where that reader does.
RECORD_BYTES = st.lists(st.sampled_from([b"a", b",", b'"', b"\n", b" "]), min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(pieces=RECORD_BYTES, block_bytes=st.integers(min_value=1, max_value=8))
def test_the_scan_ends_a_record_where_the_lenient_csv_reader_does(pieces, block_bytes):
    content = b"".join(pieces)
    lines = content.decode().splitlines(keepends=True)
    consumed = 0

    def feed():
        nonlocal consumed
        # A closing quote after the file: the reader takes it only if a
        # quoted field is still open at the end.
        for line in [*lines, '"\n']:
            consumed += 1
            yield line

    next(csv.reader(feed(), strict=False))

    if consumed > len(lines):
        with pytest.raises(UnclosedQuote):
            _extent(content, block_bytes=block_bytes)
    else:
        end = sum(len(line) for line in lines[:consumed])
        assert _extent(content, block_bytes=block_bytes) == RecordExtent(end=end, lines=consumed)
