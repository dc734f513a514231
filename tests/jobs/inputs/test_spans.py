"""Planning and reading spans (bulkyard/jobs/inputs/spans.py): spans of whole items,
numbered by line, and the fast paths checked against the item-by-item reader."""

import io

from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkyard.jobs.inputs import plan_input, read_span
from bulkyard.jobs.kinds import InputRejected
from tests.support.inputs import planned, read_all


def test_csv_is_cut_into_spans_of_whole_records():
    content = b"a,b\n1,x\n2,y\n3,z\n4,w\n5,v\n"

    plan = planned(content)

    assert plan.header == ["a", "b"]
    assert [span.item_count for span in plan.spans] == [2, 2, 1]
    assert plan.total_items == 5
    assert plan.spans[0].byte_start == len(b"a,b\n")
    assert plan.spans[-1].byte_end == len(content)


def test_items_are_numbered_by_the_line_they_start_on():
    content = b'a,b\n1,x\n\n"two\nlines",y\n3,z\n'

    items = read_all(content)

    assert [(item.number, item.data) for item in items] == [
        (2, {"a": "1", "b": "x"}),
        (4, {"a": "two\nlines", "b": "y"}),
        (6, {"a": "3", "b": "z"}),
    ]


def test_reading_every_span_gives_exactly_the_items_of_a_whole_pass():
    rows = b"".join(
        f'{n},"v{n}\nmore"\n'.encode() if n % 3 == 0 else f"{n},v{n}\n".encode() for n in range(50)
    )
    content = b"\xef\xbb\xbfn,v\n" + rows

    items = read_all(content, chunk_size=7)

    assert [item.data["n"] for item in items] == [str(n) for n in range(50)]
    assert len({item.number for item in items}) == 50


def test_retry_input_keeps_the_original_item_numbers():
    content = b'{"n": 17, "item": {"a": 1}}\n{"n": 230, "item": {"a": 2}}\n'

    items = read_all(content, "retry")

    assert [(item.number, item.data) for item in items] == [(17, {"a": 1}), (230, {"a": 2})]


def test_retry_lines_are_not_held_to_the_item_size_limit(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 40
    long_value = "x" * 60
    content = f'{{"n": 7, "item": "{long_value}"}}\n{{"n": 9, "item": "y"}}\n'.encode()

    items = read_all(content, "retry")

    assert [(item.number, item.error) for item in items] == [(7, None), (9, None)]


def test_spans_are_merged_to_stay_under_the_chunk_cap():
    content = b"".join(f'{{"n": {n}}}\n'.encode() for n in range(100))

    plan = plan_input(io.BytesIO(content), "jsonl", chunk_size=1, max_chunks=8)

    assert len(plan.spans) <= 8
    assert plan.total_items == 100
    items = [
        item
        for span in plan.spans
        for item in read_span(io.BytesIO(content), "jsonl", header=None, span=span)
    ]
    assert [item.data["n"] for item in items] == list(range(100))


# Lines that keep planning on its fast path (plain) and lines that make it read
# item by item (quotes, blank and whitespace-only lines, lone carriage returns,
# non-ASCII, lines over the size limit).
PLAN_LINES = st.sampled_from(
    [
        b"a,b\n",
        b"1,2\n",
        b"x,y\r\n",
        b"only-one-field\n",
        b",\n",
        b"\n",
        b"   \n",
        b"\r\n",
        b"\xc2\xa0\n",
        b"caf\xc3\xa9,\xc3\xa9\n",
        b'"quoted, with comma",2\n',
        b'"a record\nover two lines",2\n',
        b'"unfinished\n',
        b'1,"x"y\n',
        b"lone\rreturn,1\n",
        b"\xff\xfe,bad bytes\n",
        b"nul\x00inside,1\n",
        b"%s,long\n" % (b"z" * 70),
        # Lines of 64 and 65 bytes, newline included: the edge of the 64-byte limit below.
        b"%s,edge\n" % (b"y" * 57),
        b"%s,edge\n" % (b"y" * 58),
        b'{"json": "line", "n": 1}\n',
        b"not json\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(PLAN_LINES, max_size=40),
    last=st.sampled_from([b"", b"tail,no newline"]),
    fmt=st.sampled_from(["csv", "jsonl"]),
    chunk_size=st.integers(min_value=1, max_value=7),
    block_bytes=st.integers(min_value=1, max_value=200),
)
def test_fast_planning_cuts_the_same_spans_as_reading_every_item(
    lines, last, fmt, chunk_size, block_bytes
):
    content = (b"h1,h2\n" if fmt == "csv" else b"") + b"".join(lines) + last
    with override_settings(BULKYARD_MAX_ITEM_BYTES=64):
        reference = _plan_or_rejection(content, fmt, chunk_size, block_bytes=0)
        fast = _plan_or_rejection(content, fmt, chunk_size, block_bytes=block_bytes)

    assert fast == reference


def _plan_or_rejection(content: bytes, fmt: str, chunk_size: int, *, block_bytes: int):
    try:
        plan = plan_input(io.BytesIO(content), fmt, chunk_size=chunk_size, block_bytes=block_bytes)
    except InputRejected as exc:
        return exc.code, exc.message
    return plan.header, plan.spans


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(PLAN_LINES, max_size=40),
    last=st.sampled_from([b"", b"tail,no newline"]),
    chunk_size=st.integers(min_value=1, max_value=7),
    block_bytes=st.integers(min_value=1, max_value=200),
)
def test_fast_csv_reading_gives_the_same_items_as_reading_line_by_line(
    lines, last, chunk_size, block_bytes
):
    content = b"h1,h2\n" + b"".join(lines) + last
    with override_settings(BULKYARD_MAX_ITEM_BYTES=64):
        try:
            plan = plan_input(io.BytesIO(content), "csv", chunk_size=chunk_size)
        except InputRejected:
            return  # nothing to read
        for span in plan.spans:
            reference = _read(content, plan.header, span, block_bytes=0)
            fast = _read(content, plan.header, span, block_bytes=block_bytes)

            assert fast == reference


def _read(content: bytes, header, span, *, block_bytes: int) -> list[tuple]:
    return [
        (item.number, item.data, item.error and (item.error.code, item.error.message))
        for item in read_span(
            io.BytesIO(content), "csv", header=header, span=span, block_bytes=block_bytes
        )
    ]
