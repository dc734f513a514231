"""Part files: each chunk of a kind that writes a job-level file (an export,
processed documents) writes its rows to a part stored under a name no other
run of the chunk uses and records it in its summary; the finish step merges
the committed chunks' parts, in order, into the job's output file; once the
job's end is saved, the engine deletes every part, including those of runs
that never committed. A crash therefore neither loses nor repeats rows."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

from bulkyard.core.spreadsheets import neutralise
from bulkyard.core.storage import storage_delete_prefix


def csv_header(fields: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().encode()


def _csv_cell(value: Any) -> Any:
    # Only text can be a formula; numbers (negative ones too) stay numbers.
    return neutralise(value) if isinstance(value, str) else value


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, where a float would round
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# One encoder for every row: json.dumps builds a new one per call when given
# options.
_JSON = json.JSONEncoder(ensure_ascii=False, default=_json_value)
# CPython escapes ASCII text about twice as fast as text it must check for
# other characters, and writes the same JSON where all text passes
# ``json_ascii``.
_JSON_ASCII = json.JSONEncoder(ensure_ascii=True, default=_json_value)


def json_text(value: Any, *, ascii_only: bool = False) -> str:
    """``value`` as JSON Lines rows write it: UTF-8 text as it is, decimals and
    dates as strings. ``ascii_only``: the caller knows that every string in
    ``value`` passes ``json_ascii``."""
    return (_JSON_ASCII if ascii_only else _JSON).encode(value)


def json_ascii(text: str) -> bool:
    """Whether the ASCII encoder writes this string as the UTF-8 one does: all
    ASCII, and no DEL, which only the ASCII encoder escapes."""
    return text.isascii() and "\x7f" not in text


def json_line(fields: Sequence[str], row: tuple[Any, ...]) -> str:
    """A row as a line of JSON Lines: an object of its fields."""
    return json_text(dict(zip(fields, row, strict=True))) + "\n"


def csv_line(row: tuple[Any, ...]) -> str:
    """A row as a line of CSV, text that a spreadsheet would run as a formula
    made inert."""
    buffer = io.StringIO()
    write_rows([row], buffer, fields=(), format="csv")
    return buffer.getvalue()


def write_rows(
    rows: Iterable[tuple[Any, ...]],
    out: IO[str],
    *,
    fields: Sequence[str],
    format: str,
    formula_safe: bool = True,
) -> int:
    """Write rows (no header) as CSV or JSON Lines; returns how many."""
    count = 0
    if format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row] if formula_safe else row)
            count += 1
        return count
    names = tuple(fields)
    for row in rows:
        out.write(json_line(names, row))
        count += 1
    return count


def parts_folder(job_id: str) -> str:
    return f"jobs/parts/{job_id}"


def part_writer(
    *, job_id: str, sequence: int
) -> contextlib.AbstractContextManager[tuple[str, IO[bytes]]]:
    """A chunk run's part, written in place in storage under a name no other
    run of the chunk uses: ``(name, binary file)``. Removed if the block raises;
    one left by a run that stops early is deleted with the job's other parts.
    The file may not seek (on S3 it is one upload written front to back):
    ZipFile then writes data descriptors instead of seeking back."""
    name = f"{parts_folder(job_id)}/part-{sequence:06d}-{uuid.uuid4().hex[:12]}"
    return stored_writer(name, unique=True)


def part_open(name: str) -> IO[bytes]:
    """A part (``part_writer``'s name) opened for reading: seekable, read from
    the storage as it is read (on S3 in ranges, never whole)."""
    opened: IO[bytes] = default_storage.open(name, "rb")
    return opened


def parts_discard(names: Iterable[str]) -> None:
    """Delete these parts now, before the job's end deletes them all (to free
    their space while the job still writes)."""
    for name in names:
        default_storage.delete(name)


def parts_merge(
    *, parts: Sequence[str], output_name: str, header: bytes, compress: bool
) -> tuple[str, int]:
    """Concatenate the parts, in order, after the header into one stored file
    (gzip-compressed if asked); returns its storage name and size in bytes."""
    with stored_writer(output_name) as (name, sink):
        target: Any = gzip.GzipFile(fileobj=sink, mode="wb") if compress else sink
        target.write(header)
        for part in parts:
            with part_open(part) as source:
                shutil.copyfileobj(source, target, length=1024 * 1024)
        if compress:
            target.close()
        size = sink.tell()
    return name, size


def zip_parts_merge(*, parts: Sequence[str], output_name: str) -> tuple[str, int]:
    """The files of several ZIP parts, in order, in one stored ZIP archive;
    returns its storage name and size in bytes. Members keep their names, dates
    and compression."""
    with stored_writer(output_name) as (name, sink):
        with zipfile.ZipFile(sink, "w", allowZip64=True) as merged:
            for part in parts:
                with part_open(part) as source, zipfile.ZipFile(source) as archive:
                    for info in archive.infolist():
                        merged.writestr(info, archive.read(info))
        size = sink.tell()
    return name, size


@contextlib.contextmanager
def stored_writer(
    output_name: str, *, storage: Storage | None = None, unique: bool = False
) -> Iterator[tuple[str, IO[bytes]]]:
    """A new stored file, written in place: ``(name, binary file)``, under
    ``output_name`` or, if that is taken, a free name the storage picks (none
    is looked for when the caller made the name ``unique``). Deleted if the
    block raises. One copy of the data, where writing to a temporary file and
    saving that made two."""
    storage = storage or default_storage
    local = _is_local(storage, output_name)
    if local:
        # The name is reserved by creating the file empty. It is then opened
        # "r+b", which writes it without truncating it: truncating ("wb") makes
        # ext4 write a file out to disk as it is closed (auto_da_alloc, its
        # guard for files rewritten in place), and the close would wait for the
        # disk, for parts deleted minutes later.
        name, mode = storage.save(output_name, ContentFile(b"")), "r+b"
    else:
        # An object store: an upload is published whole at close, under its
        # name; an empty object first would be a second upload to replace.
        name = output_name if unique else storage.get_available_name(output_name)
        mode = "wb"
    try:
        with storage.open(name, mode) as sink:
            yield name, sink
    except BaseException:
        # The S3 writer aborts its upload itself: no object to delete.
        if local:
            storage.delete(name)
        raise


def _is_local(storage: Storage, name: str) -> bool:
    try:
        storage.path(name)
    except NotImplementedError:
        return False
    return True


def parts_delete(job_id: str) -> tuple[int, int]:
    """Delete every part of a job, merged or left by a run that did not commit
    (and, on a local disk, their folder); returns how many there were and their
    bytes (the purge's log)."""
    return storage_delete_prefix(storage=default_storage, prefix=f"{parts_folder(job_id)}/")
