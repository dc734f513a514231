"""Part files: written in place in storage, merged in order into one output;
rows written as CSV or JSON Lines."""

import datetime as dt
import gzip
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from bulkyard.jobs.parts import (
    json_ascii,
    json_text,
    part_writer,
    parts_merge,
    write_rows,
    zip_parts_merge,
)

JOB_ID = "00000000-0000-0000-0000-000000000001"


def _part(sequence: int, content: bytes) -> str:
    with part_writer(job_id=JOB_ID, sequence=sequence) as (name, sink):
        sink.write(content)
    return name


def _stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def test_a_merge_is_the_header_then_every_part_in_the_order_given():
    parts = [_part(0, b"a,1\n"), _part(1, b"b,2\n" * 100_000), _part(2, b"c,3\n")]

    name, size = parts_merge(
        parts=parts, output_name="out/rows.csv", header=b"k,v\n", compress=False
    )

    expected = b"k,v\n" + b"a,1\n" + b"b,2\n" * 100_000 + b"c,3\n"
    assert _stored(name) == expected
    assert size == len(expected)


def test_a_compressed_merge_holds_the_same_rows_gzipped():
    parts = [_part(0, b'{"n": 1}\n'), _part(1, b'{"n": 2}\n')]

    name, _ = parts_merge(parts=parts, output_name="out/rows.jsonl.gz", header=b"", compress=True)

    assert gzip.decompress(_stored(name)) == b'{"n": 1}\n{"n": 2}\n'


def test_a_part_can_be_written_as_a_zip_archive_which_seeks_back_into_the_file():
    parts = []
    for sequence, member in enumerate(("one.txt", "two.txt")):
        with (
            part_writer(job_id=JOB_ID, sequence=sequence) as (name, sink),
            zipfile.ZipFile(sink, "w") as archive,
        ):
            archive.writestr(member, member.upper() * 1000)
        parts.append(name)

    name, _ = zip_parts_merge(parts=parts, output_name="out/files.zip")

    with default_storage.open(name, "rb") as stored, zipfile.ZipFile(stored) as merged:
        assert merged.testzip() is None
        assert merged.read("two.txt") == b"TWO.TXT" * 1000


@pytest.mark.parametrize(
    "value",
    [
        {"text": "".join(map(chr, range(127))), "n": 1, "x": 1.5, "none": None, "flag": True},
        {"nested": {"email": 2, "ip": 0}, "list": ["a", "b\\c", '"q"']},
        {"dec": Decimal("1.10"), "day": dt.date(2026, 12, 3)},
    ],
)
def test_json_of_ascii_text_is_the_same_whichever_encoder_writes_it(value):
    assert json_text(value, ascii_only=True) == json_text(value)


@pytest.mark.parametrize("text", ["caf\u00e9", "del\x7f", "\u2028"])
def test_text_the_ascii_encoder_would_write_otherwise_is_not_json_ascii(text):
    assert json_text(text, ascii_only=True) != json_text(text)
    assert not json_ascii(text)


def test_csv_cells_that_could_run_as_formulas_are_neutralised_but_numbers_are_not():
    out = io.StringIO()

    write_rows(
        [("=HYPERLINK(1)", "@SUM(A1)", "-5", Decimal("-2.50"), -3)],
        out,
        fields=["a", "b", "c", "d", "e"],
        format="csv",
    )

    assert out.getvalue() == "'=HYPERLINK(1),'@SUM(A1),-5,-2.50,-3\n"


def test_csv_cells_stay_as_they_are_when_formula_safety_is_off():
    out = io.StringIO()

    write_rows([("=1+1",)], out, fields=["a"], format="csv", formula_safe=False)

    assert out.getvalue() == "=1+1\n"


def test_json_lines_keep_decimals_exact_and_nulls_null():
    out = io.StringIO()

    write_rows(
        [("a@x.io", None, Decimal("0.10"))], out, fields=["email", "age", "amount"], format="jsonl"
    )

    assert out.getvalue() == '{"email": "a@x.io", "age": null, "amount": "0.10"}\n'
