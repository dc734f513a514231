"""Copies and deletes by prefix on either storage (bulkyard/core/storage/):
a local folder, and S3 (moto's real server)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from bulkyard.core.storage import storage_connections_reset, storage_copy, storage_delete_prefix
from bulkyard.core.storage.s3 import BulkyardS3Storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return FileSystemStorage(location=tmp_path / "media")
    return BulkyardS3Storage(**request.getfixturevalue("s3_server").options())


def _put(storage, name: str, content: bytes = b"x") -> None:
    # save() on an existing name would pick another; these names are new.
    assert storage.save(name, ContentFile(content)) == name


def _read(storage, name: str) -> bytes:
    with storage.open(name, "rb") as file:
        return bytes(file.read())


def test_a_copy_has_the_same_bytes_and_leaves_the_source(storage):
    _put(storage, "uploads/a.csv", b"id,name\n1,Ann\n")

    storage_copy(storage=storage, source="uploads/a.csv", target="jobs/7/input.csv")

    assert _read(storage, "jobs/7/input.csv") == b"id,name\n1,Ann\n"
    assert _read(storage, "uploads/a.csv") == b"id,name\n1,Ann\n"


def test_a_copy_replaces_the_target(storage):
    _put(storage, "a.txt", b"new")
    _put(storage, "b.txt", b"old, and longer")

    storage_copy(storage=storage, source="a.txt", target="b.txt")

    assert _read(storage, "b.txt") == b"new"


def test_copying_a_missing_file_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage_copy(storage=storage, source="missing.txt", target="b.txt")


def test_deleting_a_folder_prefix_deletes_all_under_it_and_nothing_beside(storage):
    for name in ("jobs/1/a", "jobs/1/parts/b", "jobs/10/a", "jobs/2/a"):
        _put(storage, name)

    deleted = storage_delete_prefix(storage=storage, prefix="jobs/1/")

    assert deleted.files == 2
    assert [storage.exists(n) for n in ("jobs/1/a", "jobs/1/parts/b")] == [False, False]
    assert [storage.exists(n) for n in ("jobs/10/a", "jobs/2/a")] == [True, True]


def test_deleting_a_name_prefix_deletes_only_the_names_that_start_so(storage):
    for name in ("jobs/1/part-1", "jobs/1/part-2", "jobs/1/output.csv"):
        _put(storage, name)

    deleted = storage_delete_prefix(storage=storage, prefix="jobs/1/part-")

    assert deleted.files == 2
    assert storage.exists("jobs/1/output.csv")
    assert not storage.exists("jobs/1/part-1")


def test_deleting_a_prefix_counts_the_bytes_of_what_it_deleted(storage):
    _put(storage, "jobs/1/a", b"x" * 10)
    _put(storage, "jobs/1/parts/b", b"y" * 32)
    _put(storage, "jobs/1/part-1", b"z" * 5)

    assert storage_delete_prefix(storage=storage, prefix="jobs/1/part") == (2, 37)
    assert storage_delete_prefix(storage=storage, prefix="jobs/1/") == (1, 10)


def test_deleting_a_prefix_nothing_has_deletes_nothing(storage):
    assert storage_delete_prefix(storage=storage, prefix="jobs/404/") == (0, 0)


@pytest.mark.parametrize("prefix", ["", "/"])
def test_an_empty_prefix_is_refused(storage, prefix):
    _put(storage, "keep.txt")

    with pytest.raises(ValueError, match="every file"):
        storage_delete_prefix(storage=storage, prefix=prefix)

    assert storage.exists("keep.txt")


def test_s3_deletes_a_thousand_objects_per_request(s3_server):
    storage = BulkyardS3Storage(**s3_server.options())
    client = storage.client
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: client.put_object(
                    Bucket=storage.bucket_name, Key=storage.key(f"many/{n}"), Body=b""
                ),
                range(1001),
            )
        )
    batches: list[int] = []
    client.meta.events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: batches.append(len(params["Delete"]["Objects"])),
    )

    assert storage_delete_prefix(storage=storage, prefix="many/") == (1001, 0)

    assert batches == [1000, 1]
    assert storage.listdir("many") == ([], [])


def test_an_s3_copy_sends_no_bytes_through_this_process(s3_server):
    storage = BulkyardS3Storage(**s3_server.options())
    _put(storage, "a.bin", b"payload")
    sent: list[str] = []
    storage.client.meta.events.register(
        "before-send.s3", lambda event_name, **_: sent.append(event_name.rsplit(".", 1)[-1])
    )

    storage_copy(storage=storage, source="a.bin", target="b.bin")

    assert "CopyObject" in sent
    assert not {"GetObject", "PutObject", "UploadPart"} & set(sent)


def test_a_connections_reset_makes_the_next_request_open_a_new_client(s3_server):
    # A pool process forked from a parent that used the storage must not
    # share its client's sockets (config/celery.py resets it in each child).
    storage = BulkyardS3Storage(**s3_server.options())
    _put(storage, "a.bin")
    before, bucket = storage.client, storage.bucket

    storage_connections_reset(storage)

    assert storage.client is not before
    assert storage.bucket is not bucket
    assert storage.exists("a.bin")


def test_a_connections_reset_of_a_local_folder_does_nothing(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    _put(storage, "a.bin")

    storage_connections_reset(storage)

    assert storage.exists("a.bin")
