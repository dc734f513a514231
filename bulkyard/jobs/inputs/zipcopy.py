"""A ZIP archive of some of an input archive's files, each copied byte for byte.

The files the remainders name (by item position, as ``zipinput`` numbers
them) are copied as they are stored: local header, compressed data and data
descriptor, never decompressed. So nothing is spent on compressing again, and
a file that could not be read (encrypted, corrupt, compressed by a method
Python lacks) comes out exactly as it went in. A new central directory, in
ZIP64 form where offsets, sizes or the number of files need it, ends the
archive. The names, dates, attributes and comments of the files are kept.

The copy is planned before its first byte is sent, so that an archive that
cannot be copied is refused with a clear error rather than a broken download.
"""

from __future__ import annotations

import logging
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from bulkyard.jobs.inputs.extracts import Remainder, copy_ranges
from bulkyard.jobs.inputs.zipinput import item_members, open_zip
from bulkyard.jobs.kinds import InputRejected

logger = logging.getLogger(__name__)

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")
_ZIP64_EXTRA = 0x0001
_FLAG_DESCRIPTOR = 0x08
# What a field holds when its value is in the ZIP64 records instead.
_MASKED32 = 0xFFFFFFFF
_MASKED16 = 0xFFFF
# From these values on, ZIP64 records carry them.
ZIP64_FROM_BYTES = _MASKED32
ZIP64_FROM_FILES = _MASKED16
# Central directory records sent per piece of the download.
_RECORDS_PER_PIECE = 1000


@dataclass(frozen=True, slots=True)
class _Copy:
    info: zipfile.ZipInfo
    # Where the file's local header starts, and its bytes up to the end of
    # its data descriptor.
    start: int
    length: int
    name: bytes


def zip_extract(raw: IO[bytes], remainders: Sequence[Remainder] | None) -> Iterator[bytes]:
    """An archive of the remainders' files, in archive order; the whole input
    for ``None``. Raises ``InputRejected`` for an archive whose files overlap
    (a zip bomb's trick: copied one by one, they would make it huge)."""
    size = raw.seek(0, 2)
    if remainders is None:
        return copy_ranges(raw, [(0, size)])
    copies = _planned(raw, remainders, size)
    return _written(raw, copies)


def _planned(raw: IO[bytes], remainders: Sequence[Remainder], size: int) -> list[_Copy]:
    with open_zip(raw) as archive:
        members = item_members(archive)
    copies = []
    for remainder in remainders:
        span = remainder.span
        for position in range(span.byte_start, span.byte_end):
            number = span.first_item_number + position - span.byte_start
            if remainder.takes(number):
                copy = _located(raw, members[position], size)
                if copy is not None:
                    copies.append(copy)
    if sum(copy.length for copy in copies) > size:
        raise InputRejected(
            "invalid_zip",
            "files of the archive overlap (a zip bomb?): they cannot be copied one by one",
        )
    return copies


def _located(raw: IO[bytes], info: zipfile.ZipInfo, size: int) -> _Copy | None:
    """Where a file's bytes are, read from its local header; None if the
    header is not where the central directory says (the file is left out:
    had it run, it would have failed as unreadable)."""
    raw.seek(info.header_offset)
    fixed = raw.read(_LOCAL.size)
    if len(fixed) < _LOCAL.size or fixed[:4] != _LOCAL_SIGNATURE:
        logger.warning("ZIP member %r: no local header at its offset; left out", info.filename)
        return None
    fields = _LOCAL.unpack(fixed)
    flags, name_length, extra_length = fields[3], fields[10], fields[11]
    name = raw.read(name_length)
    extra = raw.read(extra_length)
    length = _LOCAL.size + name_length + extra_length + info.compress_size
    if flags & _FLAG_DESCRIPTOR:
        raw.seek(info.header_offset + length)
        signature = 4 if raw.read(4) == _DESCRIPTOR_SIGNATURE else 0
        sizes = 16 if _has_zip64(extra) else 8
        length += signature + 4 + sizes
    if info.header_offset + length > size:
        logger.warning("ZIP member %r runs past the end of the archive; left out", info.filename)
        return None
    return _Copy(info=info, start=info.header_offset, length=length, name=name)


def _fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    """The (id, bytes) fields of a ZIP extra block; a malformed tail as id -1."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if position + 4 + length > len(extra):
            break
        yield kind, extra[position : position + 4 + length]
        position += 4 + length
    if position < len(extra):
        yield -1, extra[position:]


def _has_zip64(extra: bytes) -> bool:
    return any(kind == _ZIP64_EXTRA for kind, _ in _fields(extra))


def _written(raw: IO[bytes], copies: list[_Copy]) -> Iterator[bytes]:
    offsets = []
    offset = 0
    for copy in copies:
        offsets.append(offset)
        yield from copy_ranges(raw, [(copy.start, copy.start + copy.length)])
        offset += copy.length
    directory_start = offset
    records: list[bytes] = []
    for copy, at in zip(copies, offsets, strict=True):
        record = _central_record(copy, at)
        offset += len(record)
        records.append(record)
        if len(records) >= _RECORDS_PER_PIECE:
            yield b"".join(records)
            records = []
    yield b"".join(records) + _end(len(copies), directory_start, offset - directory_start)


def _central_record(copy: _Copy, offset: int) -> bytes:
    info = copy.info
    # The archive's own ZIP64 field is replaced by one for the new offset.
    extra = b"".join(field for kind, field in _fields(info.extra) if kind != _ZIP64_EXTRA)
    large = [
        value for value in (info.file_size, info.compress_size, offset) if value >= ZIP64_FROM_BYTES
    ]
    extract_version = info.extract_version
    if large:
        zip64 = b"".join(struct.pack("<Q", value) for value in large)
        extra = struct.pack("<HH", _ZIP64_EXTRA, len(zip64)) + zip64 + extra
        extract_version = max(extract_version, 45)
    year, month, day, hour, minute, second = info.date_time
    return (
        _CENTRAL.pack(
            b"PK\x01\x02",
            info.create_version,
            info.create_system,
            extract_version,
            info.reserved,
            info.flag_bits,
            info.compress_type,
            hour << 11 | minute << 5 | second // 2,
            (year - 1980) << 9 | month << 5 | day,
            info.CRC,
            _bytes_field(info.compress_size),
            _bytes_field(info.file_size),
            len(copy.name),
            len(extra),
            len(info.comment),
            0,
            info.internal_attr,
            info.external_attr,
            _bytes_field(offset),
        )
        + copy.name
        + extra
        + info.comment
    )


def _bytes_field(value: int) -> int:
    return _MASKED32 if value >= ZIP64_FROM_BYTES else value


def _end(count: int, start: int, size: int) -> bytes:
    end = b""
    zip64 = count >= ZIP64_FROM_FILES or max(start, size) >= ZIP64_FROM_BYTES
    if zip64:
        end = _END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, start)
        end += _END64_LOCATOR.pack(b"PK\x06\x07", 0, start + size, 1)
    files = _MASKED16 if zip64 else count
    return end + _END.pack(
        b"PK\x05\x06",
        0,
        0,
        files,
        files,
        _bytes_field(size),
        _bytes_field(start),
        0,
    )
