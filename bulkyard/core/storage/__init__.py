"""Job files on the configured storage, local folder or object store alike.

``storage_copy`` and ``storage_delete_prefix`` do on either backend what the
engine did with paths: on S3 with server-side copies and batched deletes
(``s3.BulkyardS3Storage``), on a local folder with the file system. This module
does not import the S3 backend (boto3 is slow to import); the backend is picked
by the ``STORAGES`` setting (config/settings/storage.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from django.core.files.storage import FileSystemStorage, Storage


class Deleted(NamedTuple):
    """What a delete by prefix removed: how many files, and their bytes."""

    files: int
    bytes: int


@runtime_checkable
class ObjectStorage(Protocol):
    """A storage that copies and deletes by prefix itself (the S3 backend)."""

    def copy(self, source: str, target: str) -> None: ...

    def delete_prefix(self, prefix: str) -> Deleted: ...

    def connections_reset(self) -> None: ...


@runtime_checkable
class DownloadLinks(Protocol):
    """A storage that hands out links to download a file from it directly (the S3
    backend's presigned URLs); the local folder has none and is streamed."""

    def download_url(
        self, name: str, *, disposition: str, content_type: str, seconds: int
    ) -> str: ...


@runtime_checkable
class RangeHints(Protocol):
    """A file that reads better when told what span comes next (the S3
    backend's ranged reader: one GET for the span)."""

    def expect_range(self, start: int, end: int) -> None: ...


def expect_range(file: object, *, start: int, end: int) -> None:
    """Tell ``file`` that ``[start, end)`` will be read front to back; files
    that read as they go (a local one) need not know."""
    if isinstance(file, RangeHints):
        file.expect_range(start, end)


def storage_copy(*, storage: Storage, source: str, target: str) -> None:
    """Copies the file ``source`` to ``target``, replacing it if present. A reader
    never sees half of ``target``: it appears whole or not at all."""
    if isinstance(storage, ObjectStorage):
        storage.copy(source, target)
        return
    local = _local(storage)
    destination = Path(local.path(target))
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=".copy-")
    os.close(handle)
    try:
        shutil.copyfile(local.path(source), partial)
        os.replace(partial, destination)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def storage_delete_prefix(*, storage: Storage, prefix: str) -> Deleted:
    """Deletes every file whose name starts with ``prefix`` (``"jobs/12/"``: the
    folder; ``"jobs/12/part-"``: those files); returns how many files went and
    their bytes (on S3 from the listing the delete needs anyway)."""
    if isinstance(storage, ObjectStorage):
        return storage.delete_prefix(prefix)
    local = _local(storage)
    folder, _, start = prefix.rpartition("/")
    if not folder.strip("/") and not start:
        raise ValueError("An empty prefix would delete every file: name a folder")
    parent = Path(local.path(folder))
    if not parent.is_dir():
        return Deleted(0, 0)
    if not start:
        # A whole folder, which then goes too: an object store has none to leave.
        return _remove(parent)
    removed = [_remove(entry) for entry in parent.iterdir() if entry.name.startswith(start)]
    return Deleted(sum(r.files for r in removed), sum(r.bytes for r in removed))


def storage_connections_reset(storage: Storage) -> None:
    """Forget the storage's connections, so that the next request opens its
    own: a forked process must not share the sockets of its parent's client."""
    if isinstance(storage, ObjectStorage):
        storage.connections_reset()


def _local(storage: Storage) -> FileSystemStorage:
    if not isinstance(storage, FileSystemStorage):
        raise TypeError(f"{type(storage).__name__} is neither a local nor an object storage")
    return storage


def _remove(path: Path) -> Deleted:
    """Removes a file or a folder tree; how many files were in it, and their bytes."""
    if not path.is_dir() or path.is_symlink():
        size = _size(path)
        path.unlink(missing_ok=True)
        return Deleted(1, size)
    sizes = [_size(Path(folder, name)) for folder, _, names in os.walk(path) for name in names]
    shutil.rmtree(path)
    return Deleted(len(sizes), sum(sizes))


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:  # gone meanwhile: nothing to count
        return 0
