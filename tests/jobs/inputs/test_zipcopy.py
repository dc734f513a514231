"""Archives of some of an input archive's files (bulkyard/jobs/inputs/zipcopy.py):
each file copied as it is stored, read back by Python's zipfile."""

import io
import struct
import zipfile

import pytest

from bulkyard.jobs.inputs import Remainder, reader_for, zipcopy
from bulkyard.jobs.kinds import InputRejected
from tests.support.files import zip_members, zip_of

FILES = {
    "a.txt": b"alpha " * 100,
    "photos/b.jpg": b"\xff\xd8 not really a jpeg",
    ".hidden": b"skipped: not an item",
    "c.txt": "é".encode() * 50,
    "d/": b"",
}


def _extract(content: bytes, remainders) -> bytes:
    return b"".join(reader_for("zip").extract(io.BytesIO(content), remainders, header=None))


def _all_but(content: bytes, *numbers: int) -> list[Remainder]:
    return [
        Remainder(span, done=[[n, n] for n in numbers])
        for span in reader_for("zip").plan(io.BytesIO(content), chunk_size=2).spans
    ]


def _stored(content: bytes, name: str) -> bytes:
    """A file's local header and compressed data, as the archive stores them."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo(name)
    start = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", content, start + 26)
    return content[start : start + 30 + name_length + extra_length + info.compress_size]


def test_the_files_left_are_copied_with_their_stored_bytes():
    content = zip_of(FILES)

    extracted = _extract(content, _all_but(content, 2))

    assert zip_members(extracted) == {"a.txt": FILES["a.txt"], "c.txt": FILES["c.txt"]}
    assert _stored(extracted, "c.txt") == _stored(content, "c.txt")


def test_names_dates_attributes_and_comments_are_kept():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("dossier/naïve.txt", date_time=(2021, 3, 4, 5, 6, 8))
        info.external_attr = 0o640 << 16
        info.comment = b"kept"
        archive.writestr(info, b"text", compress_type=zipfile.ZIP_DEFLATED)
    content = buffer.getvalue()

    extracted = _extract(content, _all_but(content))

    with zipfile.ZipFile(io.BytesIO(extracted)) as archive:
        (copied,) = archive.infolist()
    assert (copied.filename, copied.date_time, copied.external_attr, copied.comment) == (
        "dossier/naïve.txt",
        (2021, 3, 4, 5, 6, 8),
        0o640 << 16,
        b"kept",
    )


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, piece) -> int:
        self.data += piece
        return len(piece)


def test_files_followed_by_a_data_descriptor_are_copied_with_it():
    # Written to a stream that cannot seek back, each file's sizes follow its data.
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("one.txt", b"1" * 500), ("two.txt", b"2" * 500)):
            archive.writestr(name, data)
    content = bytes(sink.data)

    extracted = _extract(content, _all_but(content, 1))

    with zipfile.ZipFile(io.BytesIO(extracted)) as archive:
        assert archive.testzip() is None
        assert archive.getinfo("two.txt").flag_bits & 0x08
        assert archive.read("two.txt") == b"2" * 500


def test_a_file_python_cannot_decompress_is_copied_as_it_is():
    content = bytearray(zip_of({"odd.bin": b"payload", "ok.txt": b"ok"}, compression=0))
    with zipfile.ZipFile(io.BytesIO(bytes(content))) as archive:
        info = archive.getinfo("odd.bin")
        directory = content.index(b"PK\x01\x02")
    # A compression method zipfile lacks, in both headers.
    struct.pack_into("<H", content, info.header_offset + 8, 99)
    struct.pack_into("<H", content, directory + 10, 99)
    content = bytes(content)

    extracted = _extract(content, _all_but(content, 2))

    assert _stored(extracted, "odd.bin") == _stored(content, "odd.bin")
    with zipfile.ZipFile(io.BytesIO(extracted)) as archive:
        assert archive.getinfo("odd.bin").compress_type == 99


def test_zip64_records_carry_offsets_and_counts_past_the_classic_fields(monkeypatch):
    monkeypatch.setattr(zipcopy, "ZIP64_FROM_BYTES", 100)
    monkeypatch.setattr(zipcopy, "ZIP64_FROM_FILES", 2)
    content = zip_of(FILES)

    extracted = _extract(content, _all_but(content))

    assert b"PK\x06\x06" in extracted
    assert zip_members(extracted) == {
        name: data for name, data in FILES.items() if name in ("a.txt", "photos/b.jpg", "c.txt")
    }


def test_an_archive_whose_files_overlap_is_refused():
    content = bytearray(zip_of({"big.txt": b"x" * 10_000, "s1": b"y", "s2": b"z"}, compression=0))
    with zipfile.ZipFile(io.BytesIO(bytes(content))) as archive:
        big = archive.getinfo("big.txt")
    # Both small files claim the big one's bytes (a zip bomb's trick).
    record = content.index(b"PK\x01\x02")
    for _ in range(2):
        record = content.index(b"PK\x01\x02", record + 4)
        struct.pack_into("<L2L", content, record + 16, big.CRC, big.compress_size, big.file_size)
        struct.pack_into("<L", content, record + 42, 0)
    content = bytes(content)

    with pytest.raises(InputRejected) as refused:
        _extract(content, _all_but(content))
    assert refused.value.code == "invalid_zip"


def test_a_whole_archive_is_copied_as_it_is():
    content = zip_of(FILES)

    assert _extract(content, None) == content
