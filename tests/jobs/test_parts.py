"""Part files: written in place in storage, merged in order into one output."""

import gzip
import zipfile

from django.core.files.storage import default_storage

from bulkyard.jobs.parts import part_writer, parts_merge, zip_parts_merge

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
