"""The checks on an upload before a job exists (bulkyard/jobs/inputs/sniffing.py)."""

import gzip
import io

import pytest

from bulkyard.jobs.inputs import SNIFF_BYTES, sniff, sniff_upload
from bulkyard.jobs.kinds import InputRejected


@pytest.mark.parametrize(
    ("head", "fmt", "code"),
    [
        (b"", "csv", "empty_file"),
        (b"\xef\xbb\xbf  \n", "jsonl", "empty_file"),
        (b"a,b\n", "csv", "no_items"),
        ("é,b\n1,2\n".encode("latin-1"), "csv", "invalid_encoding"),
        (b"{nope\n", "jsonl", "invalid_json"),
    ],
)
def test_sniff_rejects_unusable_files(head, fmt, code):
    with pytest.raises(InputRejected) as caught:
        sniff(head, fmt)

    assert caught.value.code == code


def test_sniff_returns_the_csv_header():
    assert sniff(b"id,text\n1,hello\n", "csv") == ["id", "text"]


def test_sniff_leaves_an_integer_over_pythons_digit_limit_to_fail_its_item():
    assert sniff(b'{"x": ' + b"9" * 5000 + b"}\n", "jsonl") is None


def test_sniff_leaves_a_value_nested_too_deeply_to_fail_its_item():
    assert sniff(b"[" * 5000 + b"]" * 5000 + b'\n{"ok": 1}\n', "jsonl") is None


def _sniff_upload(content: bytes, fmt: str = "csv"):
    upload = io.BytesIO(content)
    upload.read(10)  # wherever the caller left it
    result = sniff_upload(upload, fmt)
    assert upload.tell() == 0
    return result


@pytest.mark.parametrize("overlap", [-1, 0, 1, 5])
def test_sniff_upload_reads_a_header_that_ends_near_the_edge_of_the_window(overlap):
    last = b",lastcolumn\n"
    header = b"x" * (SNIFF_BYTES + overlap - len(last)) + last

    columns, compressed = _sniff_upload(header + b"1,2\n")

    assert (columns[-1], compressed) == ("lastcolumn", False)


def test_sniff_upload_reads_on_while_a_quoted_column_name_goes_on():
    name = "multi\n" + "y" * SNIFF_BYTES
    content = f'a,"{name}",b\n1,2,3\n'.encode()

    assert _sniff_upload(content) == (["a", name, "b"], False)


def test_sniff_upload_decompresses_gzip():
    header = ",".join(f"c{n}" for n in range(20_000)).encode() + b"\n"

    columns, compressed = _sniff_upload(gzip.compress(header + b"1\n"))

    assert (len(columns), compressed) == (20_000, True)


def test_sniff_upload_finds_no_rows_after_a_long_header():
    header = ",".join(f"c{n}" for n in range(20_000)).encode() + b"\n"

    with pytest.raises(InputRejected) as caught:
        _sniff_upload(header + b"  \n")

    assert caught.value.code == "no_items"


def test_sniff_upload_reads_no_further_for_json_lines():
    content = b'{"a": 1}\n' * 100_000

    assert _sniff_upload(content, "jsonl") == (None, False)


def test_sniff_accepts_a_bom_file_whose_head_ends_inside_a_character():
    row = ("12," + "漢" * 12_000 + "\n").encode()  # long rows: few lines in the head
    head = (b"\xef\xbb\xbfid,text\n" + row * 3)[:65536]
    assert head[-1] >= 0x80  # the head ends inside a three-byte character

    assert sniff(head, "csv") == ["id", "text"]
