"""One reader per input format, behind ``reader_for``.

The engine does four things with an input: it checks an upload before a job
exists, cuts the stored file into spans when the job is planned, reads a
span's items back when a chunk runs, and cuts the file down to the items a
cancelled job never ran. A reader does them for its format, so the engine asks
``reader_for(job.input_format)`` and never branches on the format itself.

- CSV, JSON Lines and the engine's own retry files are read by lines: a span
  is a byte range of whole records (``spans``), and an upload may be gzip,
  decompressed once when the job is planned.
- A ZIP archive is read by members: a span is a range of member positions
  (``zipinput``), and the archive is never gzip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from bulkyard.jobs.inputs.extracts import Remainder, extract_lines
from bulkyard.jobs.inputs.sniffing import sniff_upload
from bulkyard.jobs.inputs.spans import Plan, Span, plan_input, read_span
from bulkyard.jobs.inputs.zipcopy import zip_extract
from bulkyard.jobs.inputs.zipinput import plan_zip, read_zip_span, zip_check
from bulkyard.jobs.kinds import Item
from bulkyard.jobs.models import InputFormat


@dataclass(frozen=True, slots=True)
class UploadCheck:
    """What the check of an upload found out."""

    # A CSV input's columns, for the kind to check before the job is accepted.
    header: list[str] | None
    # Whether the upload is gzip: stored as it came, decompressed at planning.
    compressed: bool


class InputReader(Protocol):
    # The stored file's extension (before ``.gz`` when it came compressed).
    @property
    def extension(self) -> str: ...

    # The media type of what ``extract`` makes.
    @property
    def media_type(self) -> str: ...

    def check_upload(self, upload: IO[bytes]) -> UploadCheck:
        """Cheap checks before a job exists; raises ``InputRejected``. Leaves
        the upload at its start."""
        ...

    def plan(self, raw: IO[bytes], *, chunk_size: int) -> Plan:
        """The stored input cut into spans of ``chunk_size`` items (more when
        a file of tiny items would make too many chunks); raises
        ``InputRejected`` for an input that cannot be read at all."""
        ...

    def read(
        self, raw: IO[bytes], span: Span, *, header: list[str] | None, max_file_bytes: int
    ) -> Iterator[Item]:
        """The items of one span as planning cut it. ``header``: the columns
        planning found; ``max_file_bytes``: the largest archive member one item
        may be (the kind's ``max_file_bytes``; lines are limited by
        ``BULKYARD_MAX_ITEM_BYTES``)."""
        ...

    def extract(
        self, raw: IO[bytes], remainders: Sequence[Remainder] | None, *, header: list[str] | None
    ) -> Iterator[bytes]:
        """A file of this format (``extension``, ``media_type``) holding the
        remainders' items in input order, byte for byte where the format
        allows; the whole input for ``None``. Checks what it can before it
        returns (raising ``InputRejected``), so that the file is not cut off
        part-way by an error; streams in bounded pieces."""
        ...


@dataclass(frozen=True, slots=True)
class _LineReader:
    """CSV, JSON Lines, retry files: records found by byte offset."""

    input_format: str
    extension: str
    media_type: str

    def check_upload(self, upload: IO[bytes]) -> UploadCheck:
        header, compressed = sniff_upload(upload, self.input_format)
        return UploadCheck(header=header, compressed=compressed)

    def plan(self, raw: IO[bytes], *, chunk_size: int) -> Plan:
        return plan_input(raw, self.input_format, chunk_size=chunk_size)

    def read(
        self, raw: IO[bytes], span: Span, *, header: list[str] | None, max_file_bytes: int
    ) -> Iterator[Item]:
        return read_span(raw, self.input_format, header=header, span=span)

    def extract(
        self, raw: IO[bytes], remainders: Sequence[Remainder] | None, *, header: list[str] | None
    ) -> Iterator[bytes]:
        return extract_lines(raw, self.input_format, remainders, header=header)


@dataclass(frozen=True, slots=True)
class _ZipReader:
    """A ZIP archive: each regular file in it is an item."""

    extension: str = "zip"
    media_type: str = "application/zip"

    def check_upload(self, upload: IO[bytes]) -> UploadCheck:
        upload.seek(0)
        try:
            zip_check(upload)
        finally:
            upload.seek(0)
        return UploadCheck(header=None, compressed=False)

    def plan(self, raw: IO[bytes], *, chunk_size: int) -> Plan:
        return plan_zip(raw, chunk_size=chunk_size)

    def read(
        self, raw: IO[bytes], span: Span, *, header: list[str] | None, max_file_bytes: int
    ) -> Iterator[Item]:
        return read_zip_span(raw, span, max_item_bytes=max_file_bytes)

    def extract(
        self, raw: IO[bytes], remainders: Sequence[Remainder] | None, *, header: list[str] | None
    ) -> Iterator[bytes]:
        return zip_extract(raw, remainders)


_READERS: dict[str, InputReader] = {
    InputFormat.CSV: _LineReader(
        input_format=InputFormat.CSV, extension="csv", media_type="text/csv; charset=utf-8"
    ),
    InputFormat.JSONL: _LineReader(
        input_format=InputFormat.JSONL, extension="jsonl", media_type="application/x-ndjson"
    ),
    # JSON Lines of {"n": number, "item": ...}: the failed items of a job.
    # Cut down, it becomes JSON Lines of the items alone, which clients send.
    InputFormat.RETRY: _LineReader(
        input_format=InputFormat.RETRY, extension="jsonl", media_type="application/x-ndjson"
    ),
    InputFormat.ZIP: _ZipReader(),
}


def reader_for(input_format: str) -> InputReader:
    """The reader of an input format; ``ValueError`` for a format without one
    (``none``: the kind finds its own items)."""
    try:
        return _READERS[input_format]
    except KeyError:
        raise ValueError(f"no reader reads the input format {str(input_format)!r}") from None
