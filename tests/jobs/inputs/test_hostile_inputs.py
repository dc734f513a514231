"""Hostile inputs at the reader level: planning and reading every span agree.

Each file of the corpus is planned and read back span by span, plain and
gzip-compressed (planning decompresses a gzip input before it reads it), at
several chunk and block sizes: the same items come back each time, numbered
by the line they start on; each bad record fails alone, naming its own line;
every good record comes back intact; or the whole input is refused, for the
documented reasons only. The request-time sniff's verdict on each file is
checked too. A hypothesis property then mixes good and bad rows at random.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkyard.jobs.inputs import gunzip, plan_input, read_span, sniff_upload
from bulkyard.jobs.kinds import InputRejected
from tests.support.inputs import CORPUS, HEADER

# Chunk sizes and planning / reading block sizes (0: item by item, the
# reference; 7: the fast paths cut short everywhere; None: the default).
READINGS = [(1, 0), (3, 7), (2, None)]


def _stored(content: bytes, compressed: bool) -> bytes:
    """The bytes planning reads: a gzip input is decompressed first."""
    if not compressed:
        return content
    spool = io.BytesIO()
    gunzip(io.BytesIO(gzip.compress(content)), spool)
    return spool.getvalue()


def _read_every_span(content: bytes, fmt: str, *, chunk_size: int, block_bytes: int | None):
    """Plan, then read each span; check that they agree and that each error
    names its item's line. Returns (number, data or error code) per item."""
    blocks = {} if block_bytes is None else {"block_bytes": block_bytes}
    raw = io.BytesIO(content)
    plan = plan_input(raw, fmt, chunk_size=chunk_size, **blocks)
    items = []
    for span in plan.spans:
        read = list(read_span(raw, fmt, header=plan.header, span=span, **blocks))
        assert len(read) == span.item_count
        assert read[0].number == span.first_item_number
        items.extend(read)
    for item in items:
        if item.error is not None:
            assert item.error.message.startswith(f"line {item.number}"), item.error.message
    numbers = [item.number for item in items]
    assert numbers == sorted(set(numbers))
    return [(item.number, item.error.code if item.error else item.data) for item in items]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", list(CORPUS))
def test_planning_and_reading_agree_on_hostile_input(name, compressed):
    case = CORPUS[name]
    content = _stored(case.content, compressed)

    for chunk_size, block_bytes in READINGS:
        if case.rejected is not None:
            with pytest.raises(InputRejected) as caught:
                plan_input(io.BytesIO(content), case.fmt, chunk_size=chunk_size)
            assert caught.value.code == case.rejected[0]
            assert caught.value.message.startswith(case.rejected[1]), caught.value.message
        else:
            read = _read_every_span(
                content, case.fmt, chunk_size=chunk_size, block_bytes=block_bytes
            )
            assert read == list(case.items)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", list(CORPUS))
def test_the_request_time_sniff_accepts_or_refuses_hostile_input_clearly(name, compressed):
    case = CORPUS[name]
    upload = io.BytesIO(gzip.compress(case.content) if compressed else case.content)

    if case.sniffed is None:
        assert sniff_upload(upload, case.fmt)[1] == compressed
    else:
        with pytest.raises(InputRejected) as caught:
            sniff_upload(upload, case.fmt)
        assert caught.value.code == case.sniffed


# The property: files mixing good rows, bad rows of the kinds above and lines
# that are no item, each row generated with what reading it must give.
SMALL_LIMIT = 16 * 1024
OVER = SMALL_LIMIT + 100
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
PLAIN_TEXT = st.text(st.characters(codec="utf-8", exclude_characters='\x00",\r\n'), max_size=12)
FILLERS = st.sampled_from([b"\n", b"   \n", b"\t\r\n", b"\xc2\xa0\n"])
# (bytes of the row, error code); a row's lines are counted from its bytes.
BAD_CSV_ROWS = st.sampled_from(
    [
        (b"just-one-field\n", "wrong_field_count"),
        (b'"one\nfield"\n', "wrong_field_count"),
        (b"1,2,3\n", "wrong_field_count"),
        (b"caf\xe9,x\n", "invalid_encoding"),
        (b"nul\x00,x\n", "invalid_characters"),
        (b'"abc"x,"multi\nline"\n', "malformed_csv"),
        (b'1\rx,"multi\nrow,like\n"\n', "malformed_csv"),
        (b"x," + b"y" * OVER + b"\n", "item_too_large"),
        (b'x,"' + b"y,z\n" * (OVER // 4) + b'"\n', "item_too_large"),
        (b'x,"' + b"y" * OVER + b'\nrow,like\n"\n', "item_too_large"),
    ]
)
BAD_JSONL_ROWS = st.sampled_from(
    [
        (b'{"a": \n', "invalid_json"),
        (b"[NaN]\n", "invalid_json"),
        (b"[1e999]\n", "invalid_json"),
        (b"[" + b"9" * 5000 + b"]\n", "invalid_json"),
        (b'["\\ud800"]\n', "invalid_characters"),
        (b'{"\\u0000": 1}\n', "invalid_characters"),
        (b"[" * 101 + b"]" * 101 + b"\n", "nested_too_deeply"),
        (b'{"a": ' * 600 + b'"\\u00e9"' + b"}" * 600 + b"\n", "nested_too_deeply"),
        (b"\xff{}\n", "invalid_encoding"),
        (b'"' + b"y" * OVER + b'"\n', "item_too_large"),
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def good_csv_rows(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    if draw(st.booleans()):
        name, email = draw(PLAIN_TEXT), draw(PLAIN_TEXT)
        return f"{name},{email}\n".encode(), {"name": name, "email": email}
    name, email = draw(TEXT), draw(TEXT)
    quoted = [value.replace('"', '""') for value in (name, email)]
    return f'"{quoted[0]}","{quoted[1]}"\n'.encode(), {"name": name, "email": email}


@st.composite
def good_jsonl_rows(draw: st.DrawFn) -> tuple[bytes, Any]:
    value = draw(JSON_VALUES)
    line = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return line.encode() + b"\n", value


def _rows(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(
        st.one_of(
            good.map(lambda row: (*row, True)),
            bad.map(lambda row: (*row, False)),
            FILLERS.map(lambda line: (line, None, None)),
        ),
        max_size=12,
    )


def _expected(rows: list[tuple[bytes, Any, bool | None]], first_line: int) -> list:
    """(number, data or error code) of each item: numbered by the line it starts on."""
    expected, line = [], first_line
    for content, outcome, good in rows:
        if good is not None:
            expected.append((line, outcome))
        line += content.count(b"\n")
    return expected


@settings(max_examples=300, deadline=None)
@given(
    rows=_rows(good_csv_rows(), BAD_CSV_ROWS),
    unclosed=st.booleans(),
    chunk_size=st.integers(min_value=1, max_value=5),
    block_bytes=st.sampled_from([0, 5, 64, 4096]),
)
def test_csv_good_rows_come_back_intact_and_bad_rows_fail_alone(
    rows, unclosed, chunk_size, block_bytes
):
    content = HEADER + b"".join(row for row, _, _ in rows)
    late_line = content.count(b"\n") + 1
    if unclosed:
        content += b'late,"never closed\nrow,like\n'

    with override_settings(BULKYARD_MAX_ITEM_BYTES=SMALL_LIMIT):
        if unclosed:
            with pytest.raises(InputRejected) as caught:
                plan_input(io.BytesIO(content), "csv", chunk_size=chunk_size)
            assert caught.value.message.startswith(f"line {late_line}: a quoted field is never")
            return
        read = _read_every_span(content, "csv", chunk_size=chunk_size, block_bytes=block_bytes)

    assert read == _expected(rows, first_line=2)


@settings(max_examples=300, deadline=None)
@given(
    rows=_rows(good_jsonl_rows(), BAD_JSONL_ROWS),
    chunk_size=st.integers(min_value=1, max_value=5),
    block_bytes=st.sampled_from([0, 5, 64, 4096]),
)
def test_jsonl_good_rows_come_back_intact_and_bad_rows_fail_alone(rows, chunk_size, block_bytes):
    content = b"".join(row for row, _, _ in rows)

    with override_settings(BULKYARD_MAX_ITEM_BYTES=SMALL_LIMIT):
        read = _read_every_span(content, "jsonl", chunk_size=chunk_size, block_bytes=block_bytes)

    assert read == _expected(rows, first_line=1)
