"""Part files: written in place in storage (a local folder and S3 alike),
merged in order into one output, deleted with their job; rows written as CSV
or JSON Lines."""

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
    part_open,
    part_writer,
    parts_delete,
    parts_discard,
    parts_merge,
    write_rows,
    zip_parts_merge,
)
from tests.support import s3

JOB_ID = "00000000-0000-0000-0000-000000000001"


def _part(sequence: int, content: bytes) -> str:
    with part_writer(job_id=JOB_ID, sequence=sequence) as (name, sink):
        sink.write(content)
    return name


def _stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def test_a_merge_is_the_header_then_every_part_in_the_order_given(any_storage):
    parts = [_part(0, b"a,1\n"), _part(1, b"b,2\n" * 100_000), _part(2, b"c,3\n")]

    name, size = parts_merge(
        parts=parts, output_name="out/rows.csv", header=b"k,v\n", compress=False
    )

    expected = b"k,v\n" + b"a,1\n" + b"b,2\n" * 100_000 + b"c,3\n"
    assert _stored(name) == expected
    assert size == len(expected)


def test_a_compressed_merge_holds_the_same_rows_gzipped(any_storage):
    parts = [_part(0, b'{"n": 1}\n'), _part(1, b'{"n": 2}\n')]

    name, size = parts_merge(
        parts=parts, output_name="out/rows.jsonl.gz", header=b"", compress=True
    )

    assert gzip.decompress(_stored(name)) == b'{"n": 1}\n{"n": 2}\n'
    assert size == any_storage.size(name)


def test_a_part_can_be_written_as_a_zip_archive_which_seeks_back_into_the_file(any_storage):
    parts = []
    for sequence, member in enumerate(("one.txt", "two.txt")):
        with (
            part_writer(job_id=JOB_ID, sequence=sequence) as (name, sink),
            zipfile.ZipFile(sink, "w") as archive,
        ):
            archive.writestr(member, member.upper() * 1000)
        parts.append(name)

    name, size = zip_parts_merge(parts=parts, output_name="out/files.zip")

    with default_storage.open(name, "rb") as stored, zipfile.ZipFile(stored) as merged:
        assert merged.testzip() is None
        assert merged.read("two.txt") == b"TWO.TXT" * 1000
        assert size == stored.size


def test_a_merge_into_a_taken_name_picks_another_and_leaves_the_first(any_storage):
    first, _ = parts_merge(
        parts=[_part(0, b"a\n")], output_name="out/r.csv", header=b"", compress=False
    )

    second, _ = parts_merge(
        parts=[_part(1, b"b\n")], output_name="out/r.csv", header=b"", compress=False
    )

    assert first == "out/r.csv"
    assert second != first
    assert (_stored(first), _stored(second)) == (b"a\n", b"b\n")


def test_a_part_whose_writer_raises_is_not_kept(any_storage):
    names = []

    def failing_chunk() -> None:
        with part_writer(job_id=JOB_ID, sequence=0) as (name, sink):
            names.append(name)
            sink.write(b"half a part")
            raise RuntimeError("the chunk failed")

    with pytest.raises(RuntimeError):
        failing_chunk()

    assert not any_storage.exists(names[0])


def test_a_part_reads_back_through_part_open_and_seeks(any_storage):
    name = _part(0, b"0123456789" * 1000)

    with part_open(name) as source:
        source.seek(5000)
        assert source.read(10) == b"0123456789"


def test_discarded_parts_are_gone_and_the_others_stay(any_storage):
    kept, dropped = _part(0, b"k"), _part(1, b"d")

    parts_discard([dropped])

    assert (any_storage.exists(kept), any_storage.exists(dropped)) == (True, False)


def test_deleting_a_jobs_parts_counts_them_and_their_bytes(any_storage):
    parts = [_part(0, b"a" * 10), _part(1, b"b" * 20)]
    other = "00000000-0000-0000-0000-000000000002"
    with part_writer(job_id=other, sequence=0) as (kept, sink):
        sink.write(b"another job's")

    assert parts_delete(JOB_ID) == (2, 30)

    assert not any(any_storage.exists(name) for name in parts)
    assert any_storage.exists(kept)
    assert parts_delete(JOB_ID) == (0, 0)


def test_a_part_on_s3_is_one_upload_with_no_empty_object_first(s3_storage):
    sent = s3.requests(s3_storage)

    name = _part(0, b"rows\n")

    assert sent == [("PutObject", name)]


def test_a_merge_on_s3_reads_its_parts_and_leaves_no_empty_object_behind(s3_storage):
    parts = [_part(0, b"a\n"), _part(1, b"b\n")]
    sent = s3.requests(s3_storage)

    name, _ = parts_merge(parts=parts, output_name="out/r.csv", header=b"h\n", compress=False)

    writes = [request for request in sent if not request[0].startswith(("GetObject", "HeadObject"))]
    assert writes == [("PutObject", name)]
    assert s3.keys(s3_storage) == sorted([*parts, name])


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
