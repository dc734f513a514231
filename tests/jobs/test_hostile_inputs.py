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
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkyard.jobs.inputs import gunzip, plan_input, read_span, sniff_upload
from bulkyard.jobs.kinds import InputRejected

LIMIT = 1024 * 1024  # BULKYARD_MAX_ITEM_BYTES in the tests' settings
HEADER = b"name,email\n"
ANN = {"name": "ann", "email": "a@example.com"}
BOB = {"name": "bob", "email": "b@example.com"}


@dataclass(frozen=True)
class Hostile:
    fmt: str
    content: bytes
    # (number, data) of each good item, (number, error code) of each bad one.
    items: tuple[tuple[int, Any], ...] = ()
    # The whole input is refused instead: (code, start of the message).
    rejected: tuple[str, str] | None = None
    # The code the request-time sniff refuses the upload with, if it does.
    sniffed: str | None = None


def _csv(*rows: bytes) -> bytes:
    return HEADER + b"".join(rows)


def _big_quoted_name() -> str:
    return "x" * 70_000 + "\nmallory,m@example.com\n" + "y" * 70_000


CORPUS = {
    "csv cell over 128 KiB": Hostile(
        "csv",
        _csv(b"ann," + b"x" * 140_000 + b"\n", b"bob,b@example.com\n"),
        items=((2, {"name": "ann", "email": "x" * 140_000}), (3, BOB)),
    ),
    "csv quoted cell over 128 KiB with a row-like line inside": Hostile(
        "csv",
        _csv(f'"{_big_quoted_name()}",a@example.com\n'.encode(), b"bob,b@example.com\n"),
        items=((2, {"name": _big_quoted_name(), "email": "a@example.com"}), (5, BOB)),
    ),
    "csv strict-mode error in a record over several lines": Hostile(
        "csv",
        _csv(b'"ann"x,"multi\nmallory,m@example.com\n"\n', b"bob,b@example.com\n"),
        items=((2, "malformed_csv"), (5, BOB)),
    ),
    "csv lone CR before a quoted field that runs on": Hostile(
        "csv",
        _csv(b'ann\rx,"multi\nmallory,m@example.com\n"\n', b"bob,b@example.com\n"),
        items=((2, "malformed_csv"), (5, BOB)),
    ),
    "csv record over the item limit whose quote closes": Hostile(
        "csv",
        _csv(b'ann,"' + b"mallory,m@example.com\n" * 50_000 + b'"\n', b"bob,b@example.com\n"),
        items=((2, "item_too_large"), (50_003, BOB)),
    ),
    "csv line over the item limit": Hostile(
        "csv",
        _csv(b"ann," + b"x" * (LIMIT + 10) + b"\n", b"bob,b@example.com\n"),
        items=((2, "item_too_large"), (3, BOB)),
    ),
    "csv line over the item limit opening a quoted field": Hostile(
        "csv",
        _csv(b'ann,"' + b"x" * (LIMIT + 10) + b'\nmallory,m@example.com\n"\n', b"bob,b@x\n"),
        items=((2, "item_too_large"), (5, {"name": "bob", "email": "b@x"})),
    ),
    "csv quote never closed": Hostile(
        "csv",
        _csv(b"ann,a@example.com\n", b'bob,"b@example.com\n', b"carol,c@example.com\n"),
        rejected=("malformed_csv", "line 3: a quoted field is never closed"),
    ),
    "csv row in another encoding": Hostile(
        "csv",
        _csv(
            b"ann,a@example.com\n",
            "zoë,z@example.com\n".encode("latin-1"),
            b"bob,b@example.com\n",
            b"carol,c@example.com\n",
            b"dave,d@example.com\n",
        ),
        items=(
            (2, ANN),
            (3, "invalid_encoding"),
            (4, BOB),
            (5, {"name": "carol", "email": "c@example.com"}),
            (6, {"name": "dave", "email": "d@example.com"}),
        ),
    ),
    "csv UTF-8 BOM": Hostile(
        "csv", b"\xef\xbb\xbf" + _csv(b"ann,a@example.com\n"), items=((2, ANN),)
    ),
    "csv UTF-16 with BOM": Hostile(
        "csv",
        "name,email\nann,a@example.com\n".encode("utf-16"),
        rejected=("invalid_encoding", "line 1: the CSV header is not valid UTF-8"),
        sniffed="invalid_encoding",
    ),
    "csv CRLF inside quoted cells": Hostile(
        "csv",
        b'name,email\r\n"ann\r\nsmith",a@example.com\r\nbob,b@example.com\r\n',
        items=((2, {"name": "ann\r\nsmith", "email": "a@example.com"}), (4, BOB)),
    ),
    "csv CR-only line ends": Hostile(
        "csv",
        b"name,email\rann,a@example.com\rbob,b@example.com\r",
        rejected=("invalid_header", "line 1: the CSV header is malformed: a carriage return"),
        sniffed="invalid_header",
    ),
    "csv CR-only line ends after the header": Hostile(
        "csv",
        _csv(b"ann,a@example.com\rbob,b@example.com\r"),
        items=((2, "malformed_csv"),),
    ),
    "csv NUL byte in a cell": Hostile(
        "csv",
        _csv(b"ann,a\x00@example.com\n", b"bob,b@example.com\n"),
        items=((2, "invalid_characters"), (3, BOB)),
        sniffed="invalid_encoding",
    ),
    "csv header over the item limit": Hostile(
        "csv",
        ",".join(f"column{n}" for n in range(100_000)).encode() + b"\n1,2\n",
        rejected=("invalid_header", "line 1: the CSV header is longer than the 1048576-byte"),
        sniffed="invalid_header",
    ),
    "csv blank and whitespace lines between multi-line records": Hostile(
        "csv",
        _csv(b'\n"ann\nsmith",a@example.com\n   \n\xc2\xa0\n"bob\n\njones",b@example.com\n\n'),
        items=(
            (3, {"name": "ann\nsmith", "email": "a@example.com"}),
            (7, {"name": "bob\n\njones", "email": "b@example.com"}),
        ),
    ),
    "csv quoted last record without a final newline": Hostile(
        "csv",
        _csv(b'ann,"a\n@example.com"'),
        items=((2, {"name": "ann", "email": "a\n@example.com"}),),
    ),
    "csv Unicode line separators in cells": Hostile(
        "csv",
        _csv("ann\u2028smith,a\x85\x0b\x0c\x1c@example.com\n".encode()),
        items=((2, {"name": "ann\u2028smith", "email": "a\x85\x0b\x0c\x1c@example.com"}),),
    ),
    "csv quote inside an unquoted cell": Hostile(
        "csv", _csv(b'an"n,a@example.com\n'), items=((2, {"name": 'an"n', "email": ANN["email"]}),)
    ),
    "csv wrong field count in a record over several lines": Hostile(
        "csv",
        _csv(b'"ann\nsmith",a@example.com,extra\n', b"bob,b@example.com\n"),
        items=((2, "wrong_field_count"), (4, BOB)),
    ),
    "jsonl lone surrogate": Hostile(
        "jsonl",
        b'{"name": "\\ud800"}\n{"ok": 1}\n',
        items=((1, "invalid_characters"), (2, {"ok": 1})),
    ),
    "jsonl NUL, escaped and raw": Hostile(
        "jsonl",
        b'{"name": "a\\u0000b"}\n{"name": "a\x00b"}\n{"ok": 1}\n',
        items=((1, "invalid_characters"), (2, "invalid_json"), (3, {"ok": 1})),
        sniffed="invalid_encoding",
    ),
    "jsonl numbers beyond a float": Hostile(
        "jsonl",
        b'{"x": 1e999999}\n{"x": -1e400}\n{"x": 1.7976931348623157e308}\n',
        items=((1, "invalid_json"), (2, "invalid_json"), (3, {"x": 1.7976931348623157e308})),
    ),
    "jsonl huge integers": Hostile(
        "jsonl",
        b"[" + b"9" * 5000 + b"]\n[" + b"9" * 4300 + b"]\n",
        items=((1, "invalid_json"), (2, [int("9" * 4300)])),
    ),
    "jsonl deep nesting": Hostile(
        "jsonl",
        b'{"a": ' * 600
        + b'"\\u00e9"'
        + b"}" * 600
        + b"\n"
        + b"[" * 100
        + b"]" * 100
        + b"\n"
        + b"[" * 100_000
        + b"\n",
        items=(
            (1, "nested_too_deeply"),
            (2, json.loads("[" * 100 + "]" * 100)),
            (3, "nested_too_deeply"),
        ),
    ),
    "jsonl line over the item limit": Hostile(
        "jsonl",
        b'{"x": "' + b"y" * LIMIT + b'"}\n{"ok": 1}\n',
        items=((1, "item_too_large"), (2, {"ok": 1})),
    ),
    "jsonl line in another encoding": Hostile(
        "jsonl",
        b'{"n": 1}\n' + '{"name": "zoë"}\n'.encode("latin-1") + b'{"n": 3}\n{"n": 4}\n{"n": 5}\n',
        items=((1, {"n": 1}), (2, "invalid_encoding"), (3, {"n": 3}), (4, {"n": 4}), (5, {"n": 5})),
    ),
    "jsonl UTF-8 BOM": Hostile("jsonl", b'\xef\xbb\xbf{"a": 1}\n', items=((1, {"a": 1}),)),
    "jsonl UTF-16 with BOM": Hostile(
        "jsonl",
        '{"a": 1}\n{"b": 2}\n'.encode("utf-16"),
        items=((1, "invalid_encoding"), (2, "invalid_json"), (3, "invalid_json")),
        sniffed="invalid_encoding",
    ),
    "jsonl CR-only line ends": Hostile(
        "jsonl", b'{"a": 1}\r{"b": 2}\r', items=((1, "invalid_json"),), sniffed="invalid_json"
    ),
    "jsonl CRLF line ends": Hostile(
        "jsonl", b'{"a": 1}\r\n{"b": 2}\r\n', items=((1, {"a": 1}), (2, {"b": 2}))
    ),
    "jsonl blank and whitespace lines": Hostile(
        "jsonl",
        b'\n  \n{"a": 1}\n\t\r\n\xc2\xa0\n{"b": 2}\n\n',
        items=((3, {"a": 1}), (6, {"b": 2})),
    ),
    "jsonl NaN and Infinity": Hostile(
        "jsonl",
        b'{"x": NaN}\n{"x": -Infinity}\n{"x": 1}\n',
        items=((1, "invalid_json"), (2, "invalid_json"), (3, {"x": 1})),
    ),
    "jsonl Unicode line separators in strings": Hostile(
        "jsonl",
        '{"a": "x\u2028y\x85z"}\n'.encode(),
        items=((1, {"a": "x\u2028y\x85z"}),),
    ),
}

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
