"""gzip-compressed inputs, decompressed in bounded pieces."""

from __future__ import annotations

import gzip
import zlib
from typing import IO

from django.conf import settings

from bulkyard.jobs.kinds import InputRejected

GZIP_MAGIC = b"\x1f\x8b"
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def is_gzip(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC)


def gunzip(source: IO[bytes], target: IO[bytes]) -> int:
    """Decompress a gzip input in bounded pieces; returns the bytes written.

    Refuses a stream that is corrupt or truncated, and one that grows past
    ``BULKYARD_MAX_DECOMPRESSED_BYTES`` (a decompression bomb), before any
    item is processed.
    """
    limit = settings.BULKYARD_MAX_DECOMPRESSED_BYTES
    written = 0
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as stream:
            while piece := stream.read(1024 * 1024):
                written += len(piece)
                if written > limit:
                    raise InputRejected(
                        "decompressed_too_large",
                        f"the file decompresses to more than {limit} bytes",
                    )
                target.write(piece)
    except GZIP_ERRORS as exc:
        raise InputRejected(
            "invalid_gzip", f"the gzip stream is corrupt after {written} bytes: {exc}"
        ) from None
    return written
