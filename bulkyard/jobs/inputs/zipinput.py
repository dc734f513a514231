"""ZIP archives as job input: each regular file in the archive is one item.

Safety, checked on the archive's central directory before a job exists, and
again as each member is read:
- at most ``BULKYARD_ZIP_MAX_MEMBERS`` files, at most ``BULKYARD_ZIP_MAX_TOTAL_BYTES``
  uncompressed in all, no member compressed more than ``BULKYARD_ZIP_MAX_RATIO`` to one
  (zip bombs);
- a member larger than the kind's limit (``BULKYARD_MAX_ITEM_BYTES`` unless the kind
  sets its own) fails alone; every member is read
  with a byte cap at its declared size, so an archive that lies about sizes cannot make a
  worker read more (the read stops, the item fails);
- member names are never used as paths here; names that would climb out of a folder
  (``../``), absolute names and drive letters fail their item (``unsafe_name``), so
  nothing downstream can be tricked with them;
- directories, macOS resource forks (``__MACOSX/``) and hidden files are skipped;
  encrypted members fail alone.

Items are numbered 1, 2, … in archive order; a chunk is a range of them. An item's
data is ``{"name", "stem", "size", "content"}`` (``content`` in bytes); kinds turn it
into what they need. ``stem`` is the name without its extension, for naming what a
file becomes (``photos/cat.jpg`` → ``thumb/photos/cat.webp``); where two files would
share a stem (``cat.jpg``, ``cat.png``), their stems keep the extension, so that they stay
apart. A name the archive holds twice fails the second time (``duplicate_name``).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import IO

from django.conf import settings

from bulkyard.jobs.inputs.spans import Plan, Span
from bulkyard.jobs.kinds import InputRejected, Item, ItemError


def item_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's items: regular files, in archive order."""
    return [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not any(
            part.startswith(".") and part not in (".", "..") for part in info.filename.split("/")
        )
    ]


def open_zip(raw: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(raw)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputRejected(
            "invalid_zip", f"the file is not a readable ZIP archive: {exc}"
        ) from None


def zip_check(raw: IO[bytes]) -> int:
    """The number of items, or ``InputRejected`` for an archive that must not
    be read at all."""
    with open_zip(raw) as archive:
        members = item_members(archive)
        if not members:
            raise InputRejected("no_items", "the archive holds no files")
        if len(members) > settings.BULKYARD_ZIP_MAX_MEMBERS:
            raise InputRejected(
                "zip_too_many_files",
                f"the archive holds {len(members):,} files; the limit is "
                f"{settings.BULKYARD_ZIP_MAX_MEMBERS:,}",
            )
        total = sum(info.file_size for info in members)
        if total > settings.BULKYARD_ZIP_MAX_TOTAL_BYTES:
            raise InputRejected(
                "zip_too_large",
                f"the archive unpacks to {total:,} bytes; the limit is "
                f"{settings.BULKYARD_ZIP_MAX_TOTAL_BYTES:,}",
            )
        for info in members:
            if _ratio(info) > settings.BULKYARD_ZIP_MAX_RATIO:
                raise InputRejected(
                    "zip_bomb",
                    f"{_shown(info.filename)} is compressed {_ratio(info):,.0f} to 1; the "
                    f"limit is {settings.BULKYARD_ZIP_MAX_RATIO} to 1 (a zip bomb?)",
                )
        return len(members)


def _ratio(info: zipfile.ZipInfo) -> float:
    # Tiny files compress oddly (an empty file, a page of one letter); only
    # members of some size can be bombs.
    if info.file_size < 1_000_000:
        return 1.0
    return info.file_size / max(info.compress_size, 1)


def plan_zip(raw: IO[bytes], *, chunk_size: int) -> Plan:
    """Spans of ``chunk_size`` members; a span's byte range is its range of
    member positions."""
    count = zip_check(raw)
    spans = [
        Span(
            byte_start=start,
            byte_end=min(start + chunk_size, count),
            start_line=start + 1,
            first_item_number=start + 1,
            item_count=min(chunk_size, count - start),
        )
        for start in range(0, count, chunk_size)
    ]
    return Plan(header=None, spans=spans)


def read_zip_span(
    raw: IO[bytes], span: Span, *, max_item_bytes: int | None = None
) -> Iterator[Item]:
    """The span's items; members over ``max_item_bytes`` (default
    ``BULKYARD_MAX_ITEM_BYTES``) fail alone."""
    limit = max_item_bytes or settings.BULKYARD_MAX_ITEM_BYTES
    with open_zip(raw) as archive:
        members = item_members(archive)
        stems = unique_stems([info.filename for info in members])
        for position in range(span.byte_start, span.byte_end):
            info = members[position]
            number = span.first_item_number + position - span.byte_start
            stem = stems[position]
            try:
                if stem is None:
                    raise ItemError(
                        "duplicate_name", f"{_shown(info.filename)} is in the archive twice"
                    )
                yield Item(number, _read(archive, info, limit=limit, stem=stem))
            except ItemError as exc:
                yield Item(number, {"name": info.filename[:500]}, error=exc)


def unique_stems(names: list[str]) -> list[str | None]:
    """Each name without its extension; the whole name where that stem would
    be another file's too; None for a name that is there already (a ZIP may
    hold one name twice)."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        repeated.append(name in seen)
        seen.add(name)
    stems = [posixpath.splitext(name)[0] or name for name in names]
    while True:
        shared = Counter(stem for stem, again in zip(stems, repeated, strict=True) if not again)
        clashing = [
            position
            for position, stem in enumerate(stems)
            if not repeated[position] and shared[stem] > 1 and stem != names[position]
        ]
        if not clashing:
            break
        # Whole names are unique: each round only turns stems into them.
        for position in clashing:
            stems[position] = names[position]
    return [None if again else stem for stem, again in zip(stems, repeated, strict=True)]


def _read(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int, stem: str
) -> dict[str, object]:
    name = info.filename
    if _unsafe(name):
        raise ItemError("unsafe_name", f"{_shown(name)}: a name that leaves its folder is refused")
    if info.file_size > limit:
        raise ItemError(
            "item_too_large", f"{_shown(name)} is {info.file_size:,} bytes; the limit is {limit:,}"
        )
    if info.flag_bits & 0x1:
        raise ItemError("encrypted", f"{_shown(name)} is encrypted")
    if _ratio(info) > settings.BULKYARD_ZIP_MAX_RATIO:
        raise ItemError("zip_bomb", f"{_shown(name)} is compressed beyond the allowed ratio")
    try:
        with archive.open(info) as member:
            content = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
        raise ItemError("unreadable_file", f"{_shown(name)} cannot be read: {exc}") from None
    if len(content) != info.file_size:
        raise ItemError(
            "unreadable_file", f"{_shown(name)} does not hold the size its header declares"
        )
    return {"name": name, "stem": stem, "size": info.file_size, "content": content}


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (
        name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
        or any(part == ".." for part in parts)
    )


def _shown(name: str) -> str:
    return repr(name[:200])
