"""Planning and reading a whole input in memory, for the reader tests; and the
corpus of hostile CSV / JSON Lines files, which the reader tests
(tests/jobs/inputs/test_hostile_inputs.py) and the end-to-end ones
(tests/test_hostile_jobs.py) both run."""

import io
import json
from dataclasses import dataclass
from typing import Any

from bulkyard.jobs.inputs import Plan, plan_input, read_span
from bulkyard.jobs.kinds import Item


def planned(content: bytes, fmt: str = "csv", chunk_size: int = 2) -> Plan:
    return plan_input(io.BytesIO(content), fmt, chunk_size=chunk_size)


def read_all(content: bytes, fmt: str = "csv", chunk_size: int = 2) -> list[Item]:
    """Every item, planned then read span by span."""
    raw = io.BytesIO(content)
    plan = plan_input(raw, fmt, chunk_size=chunk_size)
    return [
        item for span in plan.spans for item in read_span(raw, fmt, header=plan.header, span=span)
    ]


def outcomes(items: list[Item]) -> list[tuple[int, Any]]:
    """(number, data) of each good item, (number, error code) of each bad one."""
    return [(item.number, item.error.code if item.error else item.data) for item in items]


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
    "csv other line-ending characters in cells of good rows": Hostile(
        "csv",
        _csv(
            b"ann\x0bsmith,a@example.com\n",
            "bob\x0c\x1c\x1d\x1e\x85\u2028\u2029jones,b@example.com\n".encode(),
            b"carol,c@example.com\n",
        ),
        items=(
            (2, {"name": "ann\x0bsmith", "email": "a@example.com"}),
            (3, {"name": "bob\x0c\x1c\x1d\x1e\x85\u2028\u2029jones", "email": "b@example.com"}),
            (4, {"name": "carol", "email": "c@example.com"}),
        ),
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
    "jsonl other line-ending characters in strings of good rows": Hostile(
        "jsonl",
        b'{"name": "ann\\u000bsmith", "email": "a@example.com"}\n'
        + '{"name": "bob\u2028\x85jones", "email": "b@example.com"}\n'.encode()
        + b'{"name": "raw\x0bvt", "email": "c@example.com"}\n'
        + b'{"name": "dave", "email": "d@example.com"}\n',
        items=(
            (1, {"name": "ann\x0bsmith", "email": "a@example.com"}),
            (2, {"name": "bob\u2028\x85jones", "email": "b@example.com"}),
            (3, "invalid_json"),  # JSON strings hold no raw control characters
            (4, {"name": "dave", "email": "d@example.com"}),
        ),
    ),
    "jsonl Unicode line separators in strings": Hostile(
        "jsonl",
        '{"a": "x\u2028y\x85z"}\n'.encode(),
        items=((1, {"a": "x\u2028y\x85z"}),),
    ),
}
