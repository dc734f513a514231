"""Reading an S3 object in ranges (bulkyard/core/storage/ranged.py), against
moto's real S3 server."""

import io
import itertools
import os
import time

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkyard.core.storage import expect_range
from bulkyard.core.storage.ranged import RangedReader
from bulkyard.core.storage.s3 import BulkyardS3Storage

DATA = os.urandom(6_000) + b"line one\nline two\n" * 330
SIZE = len(DATA)
KIB = 1024


@pytest.fixture(scope="module")
def storage(s3_server) -> BulkyardS3Storage:
    storage = BulkyardS3Storage(**s3_server.options())
    storage.client.put_object(Bucket=storage.bucket_name, Key=storage.key("data.bin"), Body=DATA)
    return storage


def _ranges(storage: BulkyardS3Storage) -> list[str]:
    """The Range header of every GET this storage's client sends from now on."""
    sent: list[str] = []

    def record(request, **_):
        sent.append(request.headers.get("Range", "").decode() or "(whole)")

    storage.client.meta.events.register("before-send.s3.GetObject", record)
    return sent


def _large(storage: BulkyardS3Storage, size: int) -> str:
    name = f"large-{size}.bin"
    storage.client.put_object(
        Bucket=storage.bucket_name, Key=storage.key(name), Body=os.urandom(size)
    )
    return name


# Positions are made absolute (seek's whence 0) or relative to the current
# position or to the end, but never land before the start.
_seek = st.tuples(st.just("seek"), st.integers(0, SIZE + 100), st.sampled_from([0, 1, 2]))
# Short hops back and forth, where the look-back window and the open stream serve.
_hop = st.tuples(st.just("hop"), st.integers(-1500, 1500), st.just(1))
_read = st.tuples(
    st.just("read"), st.one_of(st.integers(-1, 600), st.integers(-1, 4 * KIB)), st.just(0)
)
_line = st.tuples(st.just("readline"), st.integers(-1, 200), st.just(0))
_into = st.tuples(st.just("readinto"), st.integers(0, 2 * KIB), st.just(0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    operations=st.lists(st.one_of(_seek, _hop, _hop, _read, _read, _line, _into), max_size=25),
    look_back=st.sampled_from([1, 256, 2 * KIB, 16 * KIB]),
    min_fetch=st.sampled_from([1, 300, 3 * KIB]),
)
def test_random_seeks_and_reads_return_what_a_bytes_file_returns(
    storage, operations, look_back, min_fetch
):
    expected = io.BytesIO(DATA)
    with RangedReader(
        storage.client,
        bucket=storage.bucket_name,
        key=storage.key("data.bin"),
        look_back_bytes=look_back,
        min_fetch_bytes=min_fetch,
    ) as reader:
        for operation, number, whence in operations:
            if operation in ("seek", "hop"):
                target = number if operation == "seek" else max(0, expected.tell() + number)
                offset = target - {0: 0, 1: expected.tell(), 2: SIZE}[whence]
                assert reader.seek(offset, whence) == expected.seek(offset, whence)
            elif operation == "read":
                assert reader.read(number) == expected.read(number)
            elif operation == "readline":
                assert reader.readline(number) == expected.readline(number)
            else:
                mine, theirs = bytearray(number), bytearray(number)
                assert reader.readinto(mine) == expected.readinto(theirs)
                assert mine == theirs
            assert reader.tell() == expected.tell()


def test_a_read_in_the_middle_asks_only_for_its_span(storage):
    name = _large(storage, 2 * 1024 * KIB)
    start, end = 700 * KIB, 1100 * KIB
    sent = _ranges(storage)

    with storage.open(name, "rb") as reader:
        reader.seek(start)
        reader.read(end - start)

    assert sent == [f"bytes={start}-{end - 1}"]


def test_a_short_backward_seek_sends_no_request(storage):
    name = _large(storage, 1024 * KIB)
    sent = _ranges(storage)

    with storage.open(name, "rb") as reader:
        reader.seek(300 * KIB)
        first = reader.read(10 * KIB)
        reader.seek(-10 * KIB, io.SEEK_CUR)
        again = reader.read(10 * KIB)

    assert again == first
    assert len(sent) == 1


def test_a_whole_read_asks_for_ever_larger_spans_one_after_the_other(storage):
    size = 4 * 1024 * KIB
    name = _large(storage, size)
    sent = _ranges(storage)

    with storage.open(name, "rb") as reader:
        while reader.read(64 * KIB):
            pass

    spans = [tuple(int(n) for n in r.removeprefix("bytes=").split("-")) for r in sent]
    assert spans[0][0] == 0
    assert spans[-1][1] == size - 1
    assert all(after[0] == before[1] + 1 for before, after in itertools.pairwise(spans))
    lengths = [end - start + 1 for start, end in spans]
    assert lengths[:-1] == sorted(lengths[:-1])
    assert len(spans) <= 5


def test_an_expected_span_read_in_small_pieces_is_one_request_for_that_span(storage):
    name = _large(storage, 4 * 1024 * KIB)
    start, end = 1000 * KIB, 3000 * KIB
    sent = _ranges(storage)

    with storage.open(name, "rb") as reader:
        expect_range(reader, start=start, end=end)
        reader.seek(start)
        while reader.tell() < end:
            reader.read(min(64 * KIB, end - reader.tell()))
        reader.read(KIB)  # past the span: a request of its own

    assert sent[0] == f"bytes={start}-{end - 1}"
    assert [r.split("-")[0] for r in sent[1:]] == [f"bytes={end}"]


def test_an_object_replaced_while_read_is_not_mixed_with_the_new_one(storage):
    name = _large(storage, 600 * KIB)

    with storage.open(name, "rb") as reader:
        reader.read(10)
        storage.client.put_object(
            Bucket=storage.bucket_name, Key=storage.key(name), Body=b"something else"
        )
        reader.seek(500 * KIB)
        with pytest.raises(ClientError, match=r"PreconditionFailed|412"):
            reader.read(10)


def test_an_empty_object_reads_as_empty(storage):
    storage.client.put_object(Bucket=storage.bucket_name, Key=storage.key("empty"), Body=b"")

    with storage.open("empty", "rb") as reader:
        assert reader.read() == b""
        assert reader.size == 0


def test_opening_a_missing_object_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("no-such-file", "rb")


def test_the_reader_says_it_is_seekable_and_read_only(storage):
    with storage.open("data.bin", "rb") as reader:
        assert (reader.seekable(), reader.readable(), reader.writable()) == (True, True, False)
        assert reader.size == SIZE


def test_reading_line_by_line_reads_ahead_instead_of_byte_by_byte(storage):
    # 20,000 lines took 13 s when each line's look-ahead pulled one byte at a
    # time from the stream; reading ahead, well under a tenth of a second.
    lines = b"".join(b"%d,name %d,someone@example.com\n" % (n, n) for n in range(20_000))
    storage.client.put_object(Bucket=storage.bucket_name, Key=storage.key("lines.csv"), Body=lines)
    started = time.monotonic()

    with storage.open("lines.csv", "rb") as reader:
        count = sum(1 for _ in reader)

    assert count == 20_000
    assert time.monotonic() - started < 3
