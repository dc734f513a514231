import gzip
import io
import zipfile

import pytest

from bulkyard.jobs.inputs import HEAD_BYTES, read_head
from bulkyard.jobs.kinds import InputRejected


def test_a_csv_head_gives_the_first_rows_with_their_line_numbers():
    upload = io.BytesIO(b"email,name\n\na@x.org,A\nb@x.org,B\nc@x.org,C\n")

    head = read_head(upload, "csv", rows=2)

    assert head.header == ["email", "name"]
    assert [(item.number, item.data) for item in head.items] == [
        (3, {"email": "a@x.org", "name": "A"}),
        (4, {"email": "b@x.org", "name": "B"}),
    ]


def test_a_csv_row_with_too_many_fields_comes_with_its_reader_error():
    head = read_head(io.BytesIO(b"email,name\na@x.org,A,extra\n"), "csv", rows=5)

    assert head.items[0].error is not None
    assert head.items[0].error.code == "wrong_field_count"


def test_a_gzip_upload_is_read_decompressed():
    upload = io.BytesIO(gzip.compress(b'{"a": 1}\nnot json\n'))

    head = read_head(upload, "jsonl", rows=5)

    assert head.items[0].data == {"a": 1}
    assert head.items[1].number == 2
    assert head.items[1].error is not None
    assert head.items[1].error.code == "invalid_json"


def test_only_the_head_is_read_and_a_line_it_cuts_is_left_out():
    line = b"x" * 999 + b"\n"
    rows = HEAD_BYTES // len(line) + 10
    upload = io.BytesIO(b"text\n" + line * rows)

    head = read_head(upload, "csv", rows=rows)

    # Whole lines only: the one the head cuts in two is not an item.
    assert len(head.items) == (HEAD_BYTES - 5) // len(line)
    assert all(item.error is None for item in head.items)


def test_a_zip_head_is_its_first_files():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("a.txt", "b.txt", "c.txt"):
            archive.writestr(name, name.encode())

    head = read_head(buffer, "zip", rows=2)

    assert [item.data["name"] for item in head.items] == ["a.txt", "b.txt"]


def test_an_empty_csv_is_refused_as_the_real_run_refuses_it():
    with pytest.raises(InputRejected) as caught:
        read_head(io.BytesIO(b""), "csv", rows=5)

    assert caught.value.code == "empty_file"


def test_the_upload_is_left_at_its_start():
    upload = io.BytesIO(b"a\n1\n")

    read_head(upload, "csv", rows=1)

    assert upload.tell() == 0


def test_a_quoted_field_still_open_where_the_head_is_cut_ends_the_preview():
    # The third record's quoted text runs past the head (closed further on).
    long_text = ("x" * 99 + "\n") * (HEAD_BYTES // 100 + 10)
    upload = io.BytesIO(b'id,text\n1,a\n2,b\n3,"' + long_text.encode() + b'"\n4,d\n')

    head = read_head(upload, "csv", rows=10)

    assert [item.number for item in head.items] == [2, 3]


def test_a_quote_never_closed_in_a_whole_file_is_refused():
    with pytest.raises(InputRejected) as caught:
        read_head(io.BytesIO(b'id,text\n1,a\n2,"b\n3,c\n'), "csv", rows=10)

    assert caught.value.code == "malformed_csv"
