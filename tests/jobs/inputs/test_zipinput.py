"""ZIP archives as input (bulkyard/jobs/inputs/zipinput.py): what is an item, and
what is refused."""

import io
import zipfile

import pytest

from bulkyard.jobs.inputs import Span
from bulkyard.jobs.inputs.zipinput import plan_zip, read_zip_span, zip_check
from bulkyard.jobs.kinds import InputRejected
from tests.support.files import zip_of


def _archive(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    return io.BytesIO(zip_of(files, compression=compression))


def _items(raw: io.BytesIO, *, chunk_size: int = 100) -> list:
    plan = plan_zip(raw, chunk_size=chunk_size)
    return [item for span in plan.spans for item in read_zip_span(raw, span)]


def test_each_regular_file_is_an_item_in_archive_order_and_chunks_are_ranges():
    raw = _archive({f"docs/{n}.txt": f"text {n}".encode() for n in range(5)})

    plan = plan_zip(raw, chunk_size=2)

    assert [(s.first_item_number, s.item_count) for s in plan.spans] == [(1, 2), (3, 2), (5, 1)]
    items = [item for span in plan.spans for item in read_zip_span(raw, span)]
    assert [(i.number, i.data["name"], i.data["content"]) for i in items][:2] == [
        (1, "docs/0.txt", b"text 0"),
        (2, "docs/1.txt", b"text 1"),
    ]


def test_folders_resource_forks_and_hidden_files_are_not_items():
    raw = _archive(
        {
            "a/": b"",
            "__MACOSX/._a.txt": b"junk",
            ".DS_Store": b"junk",
            "a/.hidden.txt": b"junk",
            "a/kept.txt": b"kept",
        }
    )

    assert [item.data["name"] for item in _items(raw)] == ["a/kept.txt"]


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/x.txt"])
def test_a_name_that_leaves_its_folder_fails_its_item(name):
    raw = _archive({name: b"x", "fine.txt": b"y"})

    items = {item.data["name"]: item for item in _items(raw)}

    assert items[name].error is not None
    assert items[name].error.code == "unsafe_name"
    assert "content" not in items[name].data
    assert items["fine.txt"].error is None


def test_a_member_larger_than_the_item_limit_fails_alone(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    raw = _archive({"big.txt": b"x" * 101, "small.txt": b"x" * 100})

    items = _items(raw)

    assert [i.error.code if i.error else None for i in items] == ["item_too_large", None]


def test_a_kind_may_allow_larger_members_than_the_item_limit(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    raw = _archive({"photo.jpg": b"x" * 5000, "huge.jpg": b"x" * 5001})
    [span] = plan_zip(raw, chunk_size=10).spans

    items = list(read_zip_span(raw, span, max_item_bytes=5000))

    assert [i.error.code if i.error else None for i in items] == [None, "item_too_large"]


def test_a_stem_is_the_name_without_its_extension_unless_two_files_share_it():
    raw = _archive(
        {
            "photos/cat.jpg": b"1",
            "photos/cat.png": b"2",
            "photos/dog.jpg": b"3",
            "other/cat.jpg": b"4",
            "README": b"5",
            "photos/cat.jpg.png": b"6",
        }
    )

    stems = {item.data["name"]: item.data["stem"] for item in _items(raw)}

    assert stems == {
        "photos/cat.jpg": "photos/cat.jpg",
        "photos/cat.png": "photos/cat.png",
        "photos/dog.jpg": "photos/dog",
        "other/cat.jpg": "other/cat",
        "README": "README",
        "photos/cat.jpg.png": "photos/cat.jpg.png",
    }


def test_a_name_the_archive_holds_twice_fails_the_second_time():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", b"first")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("a.txt", b"second")
        archive.writestr("b.txt", b"other")

    items = _items(buffer)

    assert [(i.data["name"], i.error.code if i.error else None) for i in items] == [
        ("a.txt", None),
        ("a.txt", "duplicate_name"),
        ("b.txt", None),
    ]


def test_a_zip_bomb_is_refused_before_the_job_exists():
    raw = _archive({"bomb.txt": b"\0" * 20_000_000})  # compresses about 1000 to 1

    with pytest.raises(InputRejected) as refused:
        zip_check(raw)

    assert refused.value.code == "zip_bomb"


def test_too_many_files_are_refused(settings):
    settings.BULKYARD_ZIP_MAX_MEMBERS = 3
    raw = _archive({f"{n}.txt": b"x" for n in range(4)})

    with pytest.raises(InputRejected) as refused:
        zip_check(raw)

    assert refused.value.code == "zip_too_many_files"


def test_too_much_unpacked_data_is_refused(settings):
    settings.BULKYARD_ZIP_MAX_TOTAL_BYTES = 1000
    raw = _archive({"a.txt": b"x" * 600, "b.txt": b"x" * 600}, compression=zipfile.ZIP_STORED)

    with pytest.raises(InputRejected) as refused:
        zip_check(raw)

    assert refused.value.code == "zip_too_large"


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04truncated"])
def test_a_file_that_is_no_readable_zip_is_refused(content):
    with pytest.raises(InputRejected) as refused:
        zip_check(io.BytesIO(content))

    assert refused.value.code == "invalid_zip"


def test_an_empty_archive_has_no_items():
    with pytest.raises(InputRejected) as refused:
        zip_check(_archive({}))

    assert refused.value.code == "no_items"


def test_a_member_whose_data_is_corrupt_fails_alone():
    raw = _archive({"a.txt": b"hello world" * 100, "b.txt": b"fine"})
    data = bytearray(raw.getvalue())
    start = data.index(b"a.txt") + len("a.txt")
    data[start + 5] ^= 0xFF  # a byte of a.txt's compressed data
    corrupted = io.BytesIO(bytes(data))

    items = list(read_zip_span(corrupted, Span(0, 2, 1, 1, 2)))

    assert items[0].error is not None
    assert items[0].error.code == "unreadable_file"
    assert items[1].data["content"] == b"fine"
