"""One reader per input format behind reader_for (bulkyard/jobs/inputs/readers.py):
check an upload, plan the stored file, read its spans back."""

import gzip
import io

import pytest

from bulkyard.jobs.inputs import reader_for
from bulkyard.jobs.kinds import InputRejected
from bulkyard.jobs.models import InputFormat
from tests.support.files import zip_of

CSV = b"id,text\n1,one\n2,two\n3,three\n"
JSONL = b'{"id": 1}\n\n{"id": 2}\n{"id": 3}\n'
RETRY = b'{"n": 7, "item": {"id": 1}}\n{"n": 12, "item": {"id": 2}}\n'
ZIP = zip_of({"a.txt": b"one", "b/c.txt": b"two", "d.txt": b"three"})


def _items(input_format: str, content: bytes, *, chunk_size: int) -> list[tuple[int, object]]:
    reader = reader_for(input_format)
    raw = io.BytesIO(content)
    plan = reader.plan(raw, chunk_size=chunk_size)
    return [
        (item.number, item.data)
        for span in plan.spans
        for item in reader.read(raw, span, header=plan.header, max_file_bytes=1000)
    ]


@pytest.mark.parametrize(
    ("input_format", "extension"),
    [("csv", "csv"), ("jsonl", "jsonl"), ("retry", "jsonl"), ("zip", "zip")],
)
def test_each_format_has_a_reader_and_is_stored_under_its_extension(input_format, extension):
    assert reader_for(input_format).extension == extension


def test_a_format_without_a_reader_is_refused():
    with pytest.raises(ValueError, match="'none'"):
        reader_for(InputFormat.NONE)


def test_csv_is_planned_and_read_back_by_record_numbered_by_line():
    assert _items("csv", CSV, chunk_size=2) == [
        (2, {"id": "1", "text": "one"}),
        (3, {"id": "2", "text": "two"}),
        (4, {"id": "3", "text": "three"}),
    ]


def test_json_lines_are_read_back_numbered_by_line_skipping_blank_ones():
    assert _items("jsonl", JSONL, chunk_size=2) == [(1, {"id": 1}), (3, {"id": 2}), (4, {"id": 3})]


def test_a_retry_file_keeps_the_numbers_of_the_job_it_retries():
    assert _items("retry", RETRY, chunk_size=1) == [(7, {"id": 1}), (12, {"id": 2})]


def test_a_zip_is_planned_and_read_back_by_member():
    items = _items("zip", ZIP, chunk_size=2)

    assert [(number, data["name"], data["content"]) for number, data in items] == [
        (1, "a.txt", b"one"),
        (2, "b/c.txt", b"two"),
        (3, "d.txt", b"three"),
    ]


def test_a_zip_member_over_the_kinds_file_limit_fails_alone():
    reader = reader_for("zip")
    raw = io.BytesIO(zip_of({"small.txt": b"ok", "large.txt": b"x" * 50}))
    (span,) = reader.plan(raw, chunk_size=10).spans

    small, large = reader.read(raw, span, header=None, max_file_bytes=10)

    assert small.error is None
    assert large.error is not None
    assert large.error.code == "item_too_large"


def test_checking_a_csv_upload_gives_its_header_and_leaves_it_at_its_start():
    upload = io.BytesIO(CSV)

    checked = reader_for("csv").check_upload(upload)

    assert (checked.header, checked.compressed) == (["id", "text"], False)
    assert upload.tell() == 0


def test_checking_a_gzip_upload_says_it_is_compressed():
    checked = reader_for("jsonl").check_upload(io.BytesIO(gzip.compress(JSONL)))

    assert (checked.header, checked.compressed) == (None, True)


def test_checking_a_zip_upload_reads_its_directory_and_leaves_it_at_its_start():
    upload = io.BytesIO(ZIP)
    upload.seek(5)

    checked = reader_for("zip").check_upload(upload)

    assert (checked.header, checked.compressed) == (None, False)
    assert upload.tell() == 0


@pytest.mark.parametrize(
    ("input_format", "content", "code"),
    [
        ("csv", b"", "empty_file"),
        ("jsonl", b"not json\n", "invalid_json"),
        ("zip", b"PK not really", "invalid_zip"),
    ],
    ids=["csv", "jsonl", "zip"],
)
def test_an_unusable_upload_is_refused_with_the_reason(input_format, content, code):
    upload = io.BytesIO(content)

    with pytest.raises(InputRejected) as refused:
        reader_for(input_format).check_upload(upload)

    assert refused.value.code == code
    assert upload.tell() == 0
