"""A write-only file that streams into one S3 object by multipart upload.

django-storages' S3File, opened for writing, reports ``tell()`` from the start
of its write buffer, which restarts at 0 after each 5 MiB flush, while it says
it is seekable (django-storages#566): ZipFile records wrong offsets and writes
a corrupt archive past 5 MiB. It also completes the upload when a ``with``
block fails, publishing half a file. This writer keeps an absolute ``tell()``,
says it cannot seek (so ZipFile writes data descriptors instead of seeking
back), uploads parts of exactly ``part_bytes``, and aborts on an exception:
the object then does not exist at all.
"""

from __future__ import annotations

import io
from types import TracebackType
from typing import Any

# S3's smallest part (all but the last); the default part size is larger so
# that 10,000 parts (S3's most) hold 78 GiB.
MIN_PART_BYTES = 5 * 1024 * 1024
DEFAULT_PART_BYTES = 8 * 1024 * 1024


class MultipartWriter(io.BufferedIOBase):
    """Writes ``key`` in ``bucket`` through ``client`` (a boto3 S3 client).

    Nothing is visible in the bucket until ``close()``; below one part the
    object goes up in one PUT at close. At most one part is held in memory.
    ``extra`` is passed to the upload's
    creation or the PUT (``ContentType``, ...). ``checksum_algorithm`` (``"CRC32"``)
    is declared when the upload is created and each part's checksum is handed back
    at completion, as boto3's own transfers do: S3 refuses parts that carry a
    checksum the upload was not created with. None: no checksums on parts (for
    stores that reject them).
    """

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        key: str,
        part_bytes: int = DEFAULT_PART_BYTES,
        extra: dict[str, Any] | None = None,
        checksum_algorithm: str | None = None,
    ) -> None:
        super().__init__()
        self._upload_id: str | None = None
        if part_bytes < MIN_PART_BYTES:
            self.abort()
            raise ValueError(f"part_bytes must be at least {MIN_PART_BYTES} (S3's minimum part)")
        self._client = client
        self._bucket = bucket
        self.name = key
        self._part_bytes = part_bytes
        self._extra = extra or {}
        self._algorithm = checksum_algorithm
        self._buffer = bytearray()
        self._written = 0
        self._parts: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        raise io.UnsupportedOperation("an S3 upload is written front to back")

    def tell(self) -> int:
        self._check_open()
        return self._written

    def write(self, data: Any) -> int:
        self._check_open()
        view = memoryview(data).cast("B")
        taken = 0
        # A part at a time, so that even one huge write holds one part in memory.
        while taken < len(view):
            piece = view[taken : taken + self._part_bytes - len(self._buffer)]
            self._buffer += piece
            taken += len(piece)
            if len(self._buffer) == self._part_bytes:
                part, self._buffer = self._buffer, bytearray()
                self._upload_part(part)
        self._written += taken
        return taken

    def flush(self) -> None:
        # Parts have a fixed size: a flush cannot send a partial one.
        self._check_open()

    def close(self) -> None:
        """Publishes the object: the rest as the last part, or the whole as one PUT."""
        if self.closed:
            return
        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket, Key=self.name, Body=self._buffer, **self._extra
                )
            else:
                if self._buffer:
                    self._upload_part(self._buffer)
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self.name,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        self._buffer = bytearray()
        super().close()

    def abort(self) -> None:
        """Drops everything written: no object, no upload left pending (and billed)."""
        if self.closed:
            return
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        super().close()
        if upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.name, UploadId=upload_id
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # Never publish a file nobody closed: IOBase's finalizer would close(),
        # completing whatever part of it was written.
        if not self.closed:
            self.abort()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _upload_part(self, body: bytearray) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self.name, **self._extra, **self._checksum()
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        try:
            answer = self._client.upload_part(
                Bucket=self._bucket,
                Key=self.name,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
                **self._checksum(),
            )
        except BaseException:
            self.abort()
            raise
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        if self._algorithm:
            part[f"Checksum{self._algorithm}"] = answer[f"Checksum{self._algorithm}"]
        self._parts.append(part)

    def _checksum(self) -> dict[str, str]:
        return {"ChecksumAlgorithm": self._algorithm} if self._algorithm else {}
