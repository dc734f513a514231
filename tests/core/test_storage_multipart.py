"""Writing an S3 object by multipart upload (bulkyard/core/storage/multipart.py),
against moto's real S3 server, which enforces S3's 5 MiB smallest part."""

import gzip
import io
import os
import zipfile

import pytest
from botocore.exceptions import ClientError

from bulkyard.core.storage.multipart import MIN_PART_BYTES, MultipartWriter
from bulkyard.core.storage.s3 import BulkyardS3Storage

MIB = 1024 * 1024


@pytest.fixture
def storage(s3_server) -> BulkyardS3Storage:
    return BulkyardS3Storage(**s3_server.options(part_bytes=MIN_PART_BYTES))


def _stored(storage: BulkyardS3Storage, name: str) -> bytes:
    answer = storage.client.get_object(Bucket=storage.bucket_name, Key=storage.key(name))
    return bytes(answer["Body"].read())


def _operations(storage: BulkyardS3Storage) -> list[str]:
    """The name of every S3 operation this storage's client sends from now on."""
    sent: list[str] = []
    storage.client.meta.events.register(
        "before-send.s3", lambda event_name, **_: sent.append(event_name.rsplit(".", 1)[-1])
    )
    return sent


def _pending_uploads(storage: BulkyardS3Storage) -> list[dict]:
    answer = storage.client.list_multipart_uploads(
        Bucket=storage.bucket_name, Prefix=storage.key("")
    )
    return answer.get("Uploads", [])


def test_a_zip_of_several_parts_reads_back_whole(storage):
    big, small = os.urandom(11 * MIB), b"a small member"

    with storage.open("out.zip", "wb") as sink, zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("big.bin", big)
        archive.writestr("small.txt", small)

    with zipfile.ZipFile(io.BytesIO(_stored(storage, "out.zip"))) as archive:
        assert archive.testzip() is None
        assert archive.read("big.bin") == big
        assert archive.read("small.txt") == small


def test_a_gzip_of_several_parts_reads_back_whole(storage):
    data = os.urandom(6 * MIB)

    with storage.open("out.gz", "wb") as sink, gzip.GzipFile(fileobj=sink, mode="wb") as packed:
        for start in range(0, len(data), MIB):
            packed.write(data[start : start + MIB])

    assert gzip.decompress(_stored(storage, "out.gz")) == data


def test_text_written_through_a_text_wrapper_reads_back_equal(storage):
    text = "naïve café, 東京\n" * 100

    with io.TextIOWrapper(storage.open("out.txt", "wb"), encoding="utf-8") as sink:
        sink.write(text)

    assert _stored(storage, "out.txt").decode("utf-8") == text


def test_every_part_but_the_last_is_exactly_the_part_size(storage):
    writer = storage.open("parts.bin", "wb")
    for _ in range(11):
        writer.write(os.urandom(MIB))
    (upload,) = _pending_uploads(storage)

    parts = storage.client.list_parts(
        Bucket=storage.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"]
    )["Parts"]
    writer.close()

    assert [part["Size"] for part in parts] == [MIN_PART_BYTES, MIN_PART_BYTES]
    assert storage.size("parts.bin") == 11 * MIB


def test_tell_counts_from_the_start_of_the_file_across_parts(storage):
    with storage.open("tell.bin", "wb") as writer:
        writer.write(os.urandom(7 * MIB))
        writer.write(b"x")

        assert writer.tell() == 7 * MIB + 1


def test_the_writer_refuses_to_seek(storage):
    with storage.open("seek.bin", "wb") as writer:
        assert not writer.seekable()
        with pytest.raises(io.UnsupportedOperation):
            writer.seek(0)


def _fail_half_way(storage: BulkyardS3Storage) -> None:
    with storage.open("broken.bin", "wb") as writer:
        writer.write(os.urandom(6 * MIB))
        raise RuntimeError("the job failed half-way")


def test_an_exception_inside_with_leaves_no_object_and_no_pending_upload(storage):
    with pytest.raises(RuntimeError):
        _fail_half_way(storage)

    assert not storage.exists("broken.bin")
    assert _pending_uploads(storage) == []


def test_a_writer_dropped_unclosed_publishes_nothing(storage):
    writer = storage.open("dropped.bin", "wb")
    writer.write(os.urandom(6 * MIB))
    del writer

    assert not storage.exists("dropped.bin")
    assert _pending_uploads(storage) == []


def test_a_file_smaller_than_a_part_goes_up_in_one_put(storage):
    sent = _operations(storage)

    with storage.open("small.txt", "wb") as writer:
        writer.write(b"hello")

    assert sent == ["PutObject"]
    assert _stored(storage, "small.txt") == b"hello"


def test_an_empty_file_is_an_empty_object(storage):
    storage.open("empty.txt", "wb").close()

    assert _stored(storage, "empty.txt") == b""


def test_nothing_is_visible_before_close(storage):
    writer = storage.open("late.bin", "wb")
    writer.write(os.urandom(6 * MIB))

    with pytest.raises(ClientError):
        storage.client.head_object(Bucket=storage.bucket_name, Key=storage.key("late.bin"))
    writer.close()


def test_a_part_below_s3s_minimum_is_refused(s3_server):
    storage = BulkyardS3Storage(**s3_server.options())

    with pytest.raises(ValueError, match="at least"):
        MultipartWriter(storage.client, bucket=storage.bucket_name, key="k", part_bytes=MIB)


def test_a_compressed_file_is_stored_as_its_compressed_type_not_as_an_encoding(storage):
    with storage.open("results.csv.gz", "wb") as sink:
        sink.write(gzip.compress(b"id\n1\n"))

    head = storage.client.head_object(Bucket=storage.bucket_name, Key=storage.key("results.csv.gz"))
    assert (head["ContentType"], head.get("ContentEncoding")) == ("application/gzip", None)


@pytest.mark.parametrize(
    ("checksums", "kept"), [("when_supported", True), ("when_required", False)]
)
def test_a_multipart_upload_carries_crc_checksums_unless_told_not_to(s3_server, checksums, kept):
    storage = BulkyardS3Storage(**s3_server.options(part_bytes=MIN_PART_BYTES, checksums=checksums))

    with storage.open("checked.bin", "wb") as writer:
        writer.write(os.urandom(6 * MIB))

    head = storage.client.head_object(
        Bucket=storage.bucket_name, Key=storage.key("checked.bin"), ChecksumMode="ENABLED"
    )
    assert ("ChecksumCRC32" in head) == kept
