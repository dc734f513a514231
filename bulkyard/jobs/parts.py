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
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bulkyard.core.spreadsheets import neutralise


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
    one left by a run that stops early is deleted with the job's other parts."""
    return _stored_output(f"{parts_folder(job_id)}/part-{sequence:06d}-{uuid.uuid4().hex[:12]}")


def parts_merge(
    *, parts: Sequence[str], output_name: str, header: bytes, compress: bool
) -> tuple[str, int]:
    """Concatenate the parts, in order, after the header into one stored file
    (gzip-compressed if asked); returns its storage name and size in bytes."""
    with _stored_output(output_name) as (name, sink):
        target: Any = gzip.GzipFile(fileobj=sink, mode="wb") if compress else sink
        target.write(header)
        for part in parts:
            with default_storage.open(part, "rb") as source:
                shutil.copyfileobj(source, target, length=1024 * 1024)
        if compress:
            target.close()
    return name, default_storage.size(name)


def zip_parts_merge(*, parts: Sequence[str], output_name: str) -> tuple[str, int]:
    """The files of several ZIP parts, in order, in one stored ZIP archive;
    returns its storage name and size in bytes. Members keep their names, dates
    and compression."""
    with (
        _stored_output(output_name) as (name, sink),
        zipfile.ZipFile(sink, "w", allowZip64=True) as merged,
    ):
        for part in parts:
            with default_storage.open(part, "rb") as source, zipfile.ZipFile(source) as archive:
                for info in archive.infolist():
                    merged.writestr(info, archive.read(info))
    return name, default_storage.size(name)


@contextlib.contextmanager
def _stored_output(output_name: str) -> Iterator[tuple[str, IO[bytes]]]:
    """A new stored file, written in place: its name is reserved first (the
    storage picks a free one), then it is opened for writing — one copy of the
    data, where writing to a temporary file and saving that made two."""
    name = default_storage.save(output_name, ContentFile(b""))
    try:
        default_storage.path(name)
        # The file is new and empty: "r+b" writes it without truncating it.
        # Truncating ("wb") makes ext4 write a file out to disk as it is closed
        # (auto_da_alloc, its guard for files rewritten in place): the close
        # would wait for the disk, for parts deleted minutes later.
        mode = "r+b"
    except NotImplementedError:  # not on a local disk
        mode = "wb"
    try:
        with default_storage.open(name, mode) as sink:
            yield name, sink
    except BaseException:
        default_storage.delete(name)
        raise


def parts_delete(job_id: str, *, measure: bool = False) -> tuple[int, int]:
    """Delete every part of a job, merged or left by a run that did not commit;
    returns how many there were and, if asked to ``measure`` them (the purge's
    log), their bytes."""
    folder = parts_folder(job_id)
    if not default_storage.exists(folder):
        return 0, 0
    _, files = default_storage.listdir(folder)
    size = 0
    for name in files:
        if measure:
            size += default_storage.size(f"{folder}/{name}")
        default_storage.delete(f"{folder}/{name}")
    # Object stores have no folders; a local disk keeps an empty one.
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(default_storage.path(folder))
    return len(files), size
