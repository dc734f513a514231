"""A seekable file over one S3 object that fetches only the bytes it is asked for.

django-storages' S3File downloads the whole object on its first read
(django-storages#163): a job that reads a 10-byte ZIP directory entry, or one
chunk of a 2 GB CSV, would pull the whole file into memory. Here each read
streams from a ranged GET; what was read stays in a look-back window, so the
short backward seeks readers make (ZipFile, csv sniffing, TextIOWrapper's
tell/seek) cost nothing, and short forward seeks read on in the open stream
instead of paying for a new request.
"""

from __future__ import annotations

import io
from typing import Any

# The first GET after a seek asks for at least this much; each GET that a
# sequential read runs past asks for twice the previous, up to the maximum, so
# a random read costs one small request and a whole-file read a handful.
MIN_FETCH_BYTES = 256 * 1024
MAX_FETCH_BYTES = 64 * 1024 * 1024
LOOK_BACK_BYTES = 1024 * 1024
STREAM_READ_BYTES = 256 * 1024
PEEK_BYTES = 8 * 1024


class RangedReader(io.BufferedIOBase):
    """A read-only, seekable binary file over ``key`` in ``bucket``.

    ``client`` is a boto3 S3 client. The size and ETag come from one HEAD; every
    GET carries ``If-Match`` with that ETag, so an object replaced while it is
    read fails loudly instead of mixing two versions' bytes.
    """

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        key: str,
        look_back_bytes: int = LOOK_BACK_BYTES,
        min_fetch_bytes: int = MIN_FETCH_BYTES,
    ) -> None:
        super().__init__()
        if look_back_bytes < 1 or min_fetch_bytes < 1:
            raise ValueError("look_back_bytes and min_fetch_bytes must be at least 1")
        self._client = client
        self._bucket = bucket
        self.name = key
        head = client.head_object(Bucket=bucket, Key=key)
        self.size: int = head["ContentLength"]
        self._etag: str = head["ETag"]
        self._look_back = look_back_bytes
        self._min_fetch = min_fetch_bytes
        self._fetch = min_fetch_bytes
        self._pos = 0
        # The open GET's body, the position of the next byte it yields, and
        # where its range ends (exclusive).
        self._body: Any = None
        self._body_pos = 0
        self._body_end = 0
        # The bytes just before _body_pos, at most look_back_bytes of them.
        self._window = bytearray()
        # A span the caller said it will read front to back (expect_range).
        self._expected: tuple[int, int] | None = None

    def expect_range(self, start: int, end: int) -> None:
        """The caller will read ``[start, end)`` front to back (a chunk its
        span): a GET starting inside it asks for the rest of it at once, one
        request where growing ones would take several and ask past its end."""
        self._expected = (start, end)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        out = bytearray()
        while self._pos < end:
            window_start = self._body_pos - len(self._window)
            if window_start <= self._pos < self._body_pos:
                piece = self._window[self._pos - window_start : end - window_start]
                out += piece
                self._pos += len(piece)
            elif not self._stream_reaches(self._pos):
                self._open_range(self._pos, end)
            else:
                # Read ahead in the range (small reads then come from the window),
                # but never more than the window holds: what is pulled must still
                # be there to be served.
                ahead = self._body_end - self._body_pos
                self._pull(min(STREAM_READ_BYTES, self._look_back, ahead))
        return bytes(out)

    def peek(self, size: int = 0) -> bytes:
        """What the next reads return, without moving (readline uses it)."""
        self._check_open()
        if self._pos >= self.size:
            return b""
        window_start = self._body_pos - len(self._window)
        if not window_start <= self._pos < self._body_pos:
            self.read(1)
            self._pos -= 1
            window_start = self._body_pos - len(self._window)
        # A few KiB, not the whole window: readline peeks once per line.
        start = self._pos - window_start
        return bytes(self._window[start : start + max(size, PEEK_BYTES)])

    def readline(self, size: int | None = -1) -> bytes:
        # IOBase's readline can return more than ``size`` bytes when peek gives
        # fewer than it read ahead for (it caps each step, not the line, at size).
        self._check_open()
        limit = self.size - self._pos if size is None or size < 0 else size
        line = bytearray()
        while len(line) < limit:
            ahead = self.peek(1)[: limit - len(line)]
            if not ahead:
                break
            newline = ahead.find(b"\n")
            taken = ahead if newline < 0 else ahead[: newline + 1]
            line += taken
            self._pos += len(taken)
            if newline >= 0:
                break
        return bytes(line)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._close_body()
            self._window = bytearray()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _stream_reaches(self, position: int) -> bool:
        """Whether reading on in the open GET gets to ``position`` cheaply:
        inside its range and at most a look-back window ahead (discarding that
        much beats a new request's round trip)."""
        return (
            self._body is not None
            and self._body_pos <= position < self._body_end
            and position - self._body_pos <= self._look_back
        )

    def _open_range(self, start: int, wanted_end: int) -> None:
        sequential = self._body is not None and start == self._body_end
        self._fetch = min(self._fetch * 2, MAX_FETCH_BYTES) if sequential else self._min_fetch
        stop = min(self.size, max(wanted_end, start + self._fetch))
        if self._expected and self._expected[0] <= start < self._expected[1]:
            stop = min(self.size, max(wanted_end, self._expected[1]))
        self._close_body()
        response = self._client.get_object(
            Bucket=self._bucket,
            Key=self.name,
            Range=f"bytes={start}-{stop - 1}",
            IfMatch=self._etag,
        )
        self._body = response["Body"]
        if not sequential:
            self._window = bytearray()
        self._body_pos, self._body_end = start, stop

    def _pull(self, amount: int) -> None:
        data = self._body.read(amount)
        if not data:
            raise OSError(
                f"s3://{self._bucket}/{self.name}: the stream ended at byte {self._body_pos}, "
                f"before {self._body_end}"
            )
        self._window += data
        self._body_pos += len(data)
        if len(self._window) > self._look_back:
            del self._window[: len(self._window) - self._look_back]

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
