import gzip
import io
import time

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkyard.jobs.inputs import SNIFF_BYTES, plan_input, read_span, sniff, sniff_upload
from bulkyard.jobs.kinds import InputRejected


def _plan(content: bytes, fmt: str = "csv", chunk_size: int = 2):
    return plan_input(io.BytesIO(content), fmt, chunk_size=chunk_size)


def _all_items(content: bytes, fmt: str = "csv", chunk_size: int = 2):
    raw = io.BytesIO(content)
    plan = plan_input(raw, fmt, chunk_size=chunk_size)
    return [
        item for span in plan.spans for item in read_span(raw, fmt, header=plan.header, span=span)
    ]


def test_csv_is_cut_into_spans_of_whole_records():
    content = b"a,b\n1,x\n2,y\n3,z\n4,w\n5,v\n"

    plan = _plan(content)

    assert plan.header == ["a", "b"]
    assert [span.item_count for span in plan.spans] == [2, 2, 1]
    assert plan.total_items == 5
    assert plan.spans[0].byte_start == len(b"a,b\n")
    assert plan.spans[-1].byte_end == len(content)


def test_items_are_numbered_by_the_line_they_start_on():
    content = b'a,b\n1,x\n\n"two\nlines",y\n3,z\n'

    items = _all_items(content)

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

    items = _all_items(content, chunk_size=7)

    assert [item.data["n"] for item in items] == [str(n) for n in range(50)]
    assert len({item.number for item in items}) == 50


def test_a_utf8_bom_is_not_part_of_the_first_column_name():
    plan = _plan(b"\xef\xbb\xbfid,text\n1,a\n")

    assert plan.header == ["id", "text"]


def test_undecodable_and_misshapen_rows_become_item_errors():
    items = _all_items(b"a,b\n1,ok\n2,caf\xe9\n3\n4,x,y\n", chunk_size=10)

    errors = {item.number: item.error.code for item in items if item.error}
    assert errors == {3: "invalid_encoding", 4: "wrong_field_count", 5: "wrong_field_count"}
    assert items[1].data == ["2", "caf\ufffd"]


def test_a_quote_that_is_never_closed_rejects_the_input():
    with pytest.raises(InputRejected, match="line 3: a quoted field is never closed"):
        _plan(b'a,b\n1,x\n2,"open\n3,y\n4,z\n')


def test_a_stray_character_after_a_quote_fails_only_that_row():
    items = _all_items(b'a,b\n1,"x"y\n2,z\n', chunk_size=10)

    assert items[0].error is not None
    assert items[0].error.code == "malformed_csv"
    assert items[1].data == {"a": "2", "b": "z"}


def test_a_line_over_the_item_size_limit_fails_alone(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 64
    content = b"a,b\n1,x\n2," + b"y" * 200 + b"\n3,z\n"

    items = _all_items(content, chunk_size=10)

    assert [(item.number, item.error.code if item.error else None) for item in items] == [
        (2, None),
        (3, "item_too_large"),
        (4, None),
    ]


def test_jsonl_lines_are_items_and_bad_lines_fail_alone():
    content = b'{"a": 1}\n\n[1, 2]\n{"broken": \n"text"\n'

    items = _all_items(content, "jsonl", chunk_size=2)

    assert [(item.number, item.data) for item in items if not item.error] == [
        (1, {"a": 1}),
        (3, [1, 2]),
        (5, "text"),
    ]
    broken = next(item for item in items if item.error)
    assert (broken.number, broken.error.code) == (4, "invalid_json")
    assert broken.error.message.startswith("line 4:")


def test_retry_input_keeps_the_original_item_numbers():
    content = b'{"n": 17, "item": {"a": 1}}\n{"n": 230, "item": {"a": 2}}\n'

    items = _all_items(content, "retry")

    assert [(item.number, item.data) for item in items] == [(17, {"a": 1}), (230, {"a": 2})]


def test_a_header_of_50_000_columns_is_planned_in_linear_time():
    header = ",".join(f"column{n}" for n in range(50_000)).encode() + b"\n"
    content = header + b",".join([b"1"] * 50_000) + b"\n"

    started = time.perf_counter()
    plan = _plan(content)
    elapsed = time.perf_counter() - started

    assert len(plan.header) == 50_000
    assert elapsed < 2  # 15 s while each column was counted against every other


def test_header_with_duplicate_columns_is_rejected():
    with pytest.raises(InputRejected, match="duplicate column name"):
        _plan(b"a,b,a\n1,2,3\n")


@pytest.mark.parametrize(
    ("head", "fmt", "code"),
    [
        (b"", "csv", "empty_file"),
        (b"\xef\xbb\xbf  \n", "jsonl", "empty_file"),
        (b"a,b\n", "csv", "no_items"),
        ("é,b\n1,2\n".encode("latin-1"), "csv", "invalid_encoding"),
        (b"{nope\n", "jsonl", "invalid_json"),
    ],
)
def test_sniff_rejects_unusable_files(head, fmt, code):
    with pytest.raises(InputRejected) as caught:
        sniff(head, fmt)

    assert caught.value.code == code


def test_sniff_returns_the_csv_header():
    assert sniff(b"id,text\n1,hello\n", "csv") == ["id", "text"]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"x": NaN}', "invalid_json"),
        (b'{"x": -Infinity}', "invalid_json"),
        (b"[" * 100_000, "nested_too_deeply"),
        (b'{"x": "a\\u0000b"}', "invalid_characters"),
        (b'{"x": "\\ud800"}', "invalid_characters"),
        (b'{"\\u0000": 1}', "invalid_characters"),
    ],
)
def test_json_values_a_database_cannot_store_fail_the_item(line, code):
    items = _all_items(line + b'\n{"ok": "\\\\u0000 is just text"}\n', "jsonl")

    assert items[0].error is not None
    assert items[0].error.code == code
    assert items[1].data == {"ok": "\\u0000 is just text"}


def test_a_value_nested_deeper_than_the_limit_with_a_unicode_escape_fails_alone():
    deep = b'{"a": ' * 600 + b'"\\u00e9"' + b"}" * 600

    items = _all_items(deep + b'\n{"ok": 1}\n', "jsonl")

    assert _outcomes(items) == [(1, "nested_too_deeply"), (2, {"ok": 1})]
    assert items[0].error.message == "line 1: nested more than 100 levels deep"


def test_values_are_nested_up_to_the_limit():
    at_limit = b"[" * 100 + b"]" * 100
    over = b"[" * 101 + b"]" * 101

    items = _all_items(at_limit + b"\n" + over + b"\n", "jsonl")

    assert [(item.number, item.error and item.error.code) for item in items] == [
        (1, None),
        (2, "nested_too_deeply"),
    ]


def test_brackets_inside_strings_are_not_nesting():
    line = b'{"text": "' + b"[{" * 200 + b'"}'

    assert _outcomes(_all_items(line + b"\n", "jsonl")) == [(1, {"text": "[{" * 200})]


def test_the_item_of_a_retry_line_is_held_to_the_nesting_limit_without_its_envelope():
    at_limit = "[" * 100 + "]" * 100
    content = f'{{"n": 4, "item": {at_limit}}}\n'.encode()

    assert [(item.number, item.error) for item in _all_items(content, "retry")] == [(4, None)]


@pytest.mark.parametrize("number", [b"1e999999", b"-1e400", b"1.8e308", b"1" + b"0" * 400 + b".5"])
def test_a_json_number_beyond_the_float_range_fails_the_item(number):
    items = _all_items(b'{"x": ' + number + b'}\n{"ok": 1}\n', "jsonl")

    assert _outcomes(items) == [(1, "invalid_json"), (2, {"ok": 1})]
    assert items[0].error.message.startswith("line 1: the number ")


def test_json_numbers_near_the_float_range_are_read():
    items = _all_items(b"[1.7976931348623157e308, -1e308, 1e-400]\n", "jsonl")

    assert _outcomes(items) == [(1, [1.7976931348623157e308, -1e308, 0.0])]


def test_big_json_integers_are_read_exactly():
    big = "9" * 4300

    assert _outcomes(_all_items(f'{{"x": {big}}}\n'.encode(), "jsonl")) == [(1, {"x": int(big)})]


def test_a_json_integer_over_pythons_digit_limit_fails_the_item():
    items = _all_items(b'{"x": ' + b"9" * 5000 + b'}\n{"ok": 1}\n', "jsonl")

    assert _outcomes(items) == [(1, "invalid_json"), (2, {"ok": 1})]
    assert items[0].error.message == "line 1: a number has more than 4300 digits"


def test_sniff_leaves_an_integer_over_pythons_digit_limit_to_fail_its_item():
    assert sniff(b'{"x": ' + b"9" * 5000 + b"}\n", "jsonl") is None


def test_sniff_leaves_a_value_nested_too_deeply_to_fail_its_item():
    assert sniff(b"[" * 5000 + b"]" * 5000 + b'\n{"ok": 1}\n', "jsonl") is None


def test_a_nul_character_in_a_csv_row_fails_the_row():
    items = _all_items(b"a,b\n1,x\x00y\n2,z\n", chunk_size=10)

    assert items[0].error is not None
    assert items[0].error.code == "invalid_characters"
    assert items[1].data == {"a": "2", "b": "z"}


def _outcomes(items):
    return [(item.number, item.error.code if item.error else item.data) for item in items]


def test_a_csv_cell_longer_than_the_csv_modules_default_field_limit_is_read():
    cell = "x" * 140_000  # over csv's default 131,072, under the 1 MiB item limit
    content = f"a,b\n1,{cell}\n2,y\n".encode()

    assert _outcomes(_all_items(content)) == [(2, {"a": "1", "b": cell}), (3, {"a": "2", "b": "y"})]


def test_a_long_quoted_cell_with_line_breaks_is_one_item():
    cell = "x" * 70_000 + "\nbob,bob@example.com\n" + "y" * 70_000
    content = f'name,email\n"{cell}",a@example.com\n2,z\n'.encode()

    assert _outcomes(_all_items(content)) == [
        (2, {"name": cell, "email": "a@example.com"}),
        (5, {"name": "2", "email": "z"}),
    ]


def test_a_malformed_record_with_line_breaks_fails_whole_at_its_first_line():
    content = b'a,b\n"abc"x,"multi\nbob,bob@example.com\nend"\n3,z\n'

    items = _all_items(content, chunk_size=10)

    assert _outcomes(items) == [(2, "malformed_csv"), (5, {"a": "3", "b": "z"})]
    assert items[0].error.message.startswith("line 2:")


def test_a_lone_carriage_return_before_a_quoted_field_fails_the_whole_record():
    content = b'a,b,c\n1\rx,"multi\nbob,bob@example.com\n",y\n3,z,w\n'

    items = _all_items(content, chunk_size=10)

    assert _outcomes(items) == [(2, "malformed_csv"), (5, {"a": "3", "b": "z", "c": "w"})]


def test_a_csv_record_spanning_lines_past_the_limit_fails_alone(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,"starts here\n' + b"and,goes on\n" * 20 + b'"\n2,y\n'

    items = _all_items(content)

    assert _outcomes(items) == [(2, "item_too_large"), (24, {"a": "2", "b": "y"})]
    assert items[0].error.message == (
        "line 2: a record of 22 lines, longer than the 100-byte limit"
    )


def test_a_line_over_the_limit_that_opens_a_quoted_field_fails_with_the_whole_field(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,"' + b"x" * 200 + b'\nbob,bob@example.com\n"\n2,y\n'

    assert _outcomes(_all_items(content)) == [(2, "item_too_large"), (5, {"a": "2", "b": "y"})]


def test_an_unclosed_quote_rejects_the_input_naming_the_line_the_field_starts_on():
    content = b'a,b,c\n1,x,y\n2,"multi\nline","open\nmore\n'

    with pytest.raises(InputRejected, match=r"^line 4: a quoted field is never closed"):
        _plan(content)


def test_an_unclosed_quote_past_the_item_limit_rejects_the_input(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,x\n2,"open\n' + b"3,y\n" * 100

    with pytest.raises(InputRejected, match=r"^line 3: a quoted field is never closed"):
        _plan(content)


def test_whitespace_only_lines_are_skipped_like_blank_ones():
    items = _all_items(b"a,b\n1,x\n   \n2,y\n", chunk_size=10)

    assert [item.number for item in items] == [2, 4]
    assert all(item.error is None for item in items)


def test_retry_lines_are_not_held_to_the_item_size_limit(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 40
    long_value = "x" * 60
    content = f'{{"n": 7, "item": "{long_value}"}}\n{{"n": 9, "item": "y"}}\n'.encode()

    items = _all_items(content, "retry")

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


def _sniff_upload(content: bytes, fmt: str = "csv"):
    upload = io.BytesIO(content)
    upload.read(10)  # wherever the caller left it
    result = sniff_upload(upload, fmt)
    assert upload.tell() == 0
    return result


@pytest.mark.parametrize("overlap", [-1, 0, 1, 5])
def test_sniff_upload_reads_a_header_that_ends_near_the_edge_of_the_window(overlap):
    last = b",lastcolumn\n"
    header = b"x" * (SNIFF_BYTES + overlap - len(last)) + last

    columns, compressed = _sniff_upload(header + b"1,2\n")

    assert (columns[-1], compressed) == ("lastcolumn", False)


def test_sniff_upload_reads_on_while_a_quoted_column_name_goes_on():
    name = "multi\n" + "y" * SNIFF_BYTES
    content = f'a,"{name}",b\n1,2,3\n'.encode()

    assert _sniff_upload(content) == (["a", name, "b"], False)


def test_sniff_upload_decompresses_gzip():
    header = ",".join(f"c{n}" for n in range(20_000)).encode() + b"\n"

    columns, compressed = _sniff_upload(gzip.compress(header + b"1\n"))

    assert (len(columns), compressed) == (20_000, True)


def test_sniff_upload_finds_no_rows_after_a_long_header():
    header = ",".join(f"c{n}" for n in range(20_000)).encode() + b"\n"

    with pytest.raises(InputRejected) as caught:
        _sniff_upload(header + b"  \n")

    assert caught.value.code == "no_items"


def test_sniff_upload_reads_no_further_for_json_lines():
    content = b'{"a": 1}\n' * 100_000

    assert _sniff_upload(content, "jsonl") == (None, False)


def test_a_header_over_the_item_limit_is_rejected_at_planning(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,"long\n' + b"x" * 100 + b'",c\n1,2,3\n'

    with pytest.raises(InputRejected, match="line 1: the CSV header is longer than the 100-byte"):
        _plan(content)


def test_a_duplicate_column_error_names_the_first_ten():
    header = ",".join(f"c{n % 20}" for n in range(40)).encode()

    with pytest.raises(InputRejected) as caught:
        _plan(header + b"\n" + b"1\n")

    assert caught.value.message == (
        "line 1: duplicate column name(s): c0, c1, c10, c11, c12, c13, c14, c15, c16, c17 "
        "and 10 more"
    )


def test_sniff_accepts_a_bom_file_whose_head_ends_inside_a_character():
    row = ("12," + "漢" * 12_000 + "\n").encode()  # long rows: few lines in the head
    head = (b"\xef\xbb\xbfid,text\n" + row * 3)[:65536]
    assert head[-1] >= 0x80  # the head ends inside a three-byte character

    assert sniff(head, "csv") == ["id", "text"]


def test_gunzip_refuses_a_decompression_bomb(settings):
    from bulkyard.jobs.inputs import gunzip

    settings.BULKYARD_MAX_DECOMPRESSED_BYTES = 10_000
    bomb = io.BytesIO(gzip.compress(b"0" * 1_000_000))

    with pytest.raises(InputRejected, match="decompresses to more than 10000 bytes"):
        gunzip(bomb, io.BytesIO())


def test_gunzip_refuses_a_truncated_stream():
    from bulkyard.jobs.inputs import gunzip

    data = gzip.compress(b"a,b\n" + b"1,2\n" * 50_000)

    with pytest.raises(InputRejected) as caught:
        gunzip(io.BytesIO(data[: len(data) // 2]), io.BytesIO())

    assert caught.value.code == "invalid_gzip"


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
