"""CSV reading (bulkyard/jobs/inputs/csvinput.py): the header, bad records failing
alone, and what a quoted field may hold."""

import time

import pytest

from bulkyard.jobs.kinds import InputRejected
from tests.support.inputs import outcomes, planned, read_all


def test_a_utf8_bom_is_not_part_of_the_first_column_name():
    plan = planned(b"\xef\xbb\xbfid,text\n1,a\n")

    assert plan.header == ["id", "text"]


def test_undecodable_and_misshapen_rows_become_item_errors():
    items = read_all(b"a,b\n1,ok\n2,caf\xe9\n3\n4,x,y\n", chunk_size=10)

    errors = {item.number: item.error.code for item in items if item.error}
    assert errors == {3: "invalid_encoding", 4: "wrong_field_count", 5: "wrong_field_count"}
    assert items[1].data == ["2", "caf\ufffd"]


def test_a_quote_that_is_never_closed_rejects_the_input():
    with pytest.raises(InputRejected, match="line 3: a quoted field is never closed"):
        planned(b'a,b\n1,x\n2,"open\n3,y\n4,z\n')


def test_a_stray_character_after_a_quote_fails_only_that_row():
    items = read_all(b'a,b\n1,"x"y\n2,z\n', chunk_size=10)

    assert items[0].error is not None
    assert items[0].error.code == "malformed_csv"
    assert items[1].data == {"a": "2", "b": "z"}


def test_a_line_over_the_item_size_limit_fails_alone(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 64
    content = b"a,b\n1,x\n2," + b"y" * 200 + b"\n3,z\n"

    items = read_all(content, chunk_size=10)

    assert [(item.number, item.error.code if item.error else None) for item in items] == [
        (2, None),
        (3, "item_too_large"),
        (4, None),
    ]


def test_a_header_of_50_000_columns_is_planned_in_linear_time():
    header = ",".join(f"column{n}" for n in range(50_000)).encode() + b"\n"
    content = header + b",".join([b"1"] * 50_000) + b"\n"

    started = time.perf_counter()
    plan = planned(content)
    elapsed = time.perf_counter() - started

    assert len(plan.header) == 50_000
    assert elapsed < 2  # 15 s while each column was counted against every other


def test_header_with_duplicate_columns_is_rejected():
    with pytest.raises(InputRejected, match="duplicate column name"):
        planned(b"a,b,a\n1,2,3\n")


def test_a_nul_character_in_a_csv_row_fails_the_row():
    items = read_all(b"a,b\n1,x\x00y\n2,z\n", chunk_size=10)

    assert items[0].error is not None
    assert items[0].error.code == "invalid_characters"
    assert items[1].data == {"a": "2", "b": "z"}


def test_a_csv_cell_longer_than_the_csv_modules_default_field_limit_is_read():
    cell = "x" * 140_000  # over csv's default 131,072, under the 1 MiB item limit
    content = f"a,b\n1,{cell}\n2,y\n".encode()

    assert outcomes(read_all(content)) == [(2, {"a": "1", "b": cell}), (3, {"a": "2", "b": "y"})]


def test_a_long_quoted_cell_with_line_breaks_is_one_item():
    cell = "x" * 70_000 + "\nbob,bob@example.com\n" + "y" * 70_000
    content = f'name,email\n"{cell}",a@example.com\n2,z\n'.encode()

    assert outcomes(read_all(content)) == [
        (2, {"name": cell, "email": "a@example.com"}),
        (5, {"name": "2", "email": "z"}),
    ]


def test_a_malformed_record_with_line_breaks_fails_whole_at_its_first_line():
    content = b'a,b\n"abc"x,"multi\nbob,bob@example.com\nend"\n3,z\n'

    items = read_all(content, chunk_size=10)

    assert outcomes(items) == [(2, "malformed_csv"), (5, {"a": "3", "b": "z"})]
    assert items[0].error.message.startswith("line 2:")


def test_a_lone_carriage_return_before_a_quoted_field_fails_the_whole_record():
    content = b'a,b,c\n1\rx,"multi\nbob,bob@example.com\n",y\n3,z,w\n'

    items = read_all(content, chunk_size=10)

    assert outcomes(items) == [(2, "malformed_csv"), (5, {"a": "3", "b": "z", "c": "w"})]


def test_a_csv_record_spanning_lines_past_the_limit_fails_alone(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,"starts here\n' + b"and,goes on\n" * 20 + b'"\n2,y\n'

    items = read_all(content)

    assert outcomes(items) == [(2, "item_too_large"), (24, {"a": "2", "b": "y"})]
    assert items[0].error.message == (
        "line 2: a record of 22 lines, longer than the 100-byte limit"
    )


def test_a_line_over_the_limit_that_opens_a_quoted_field_fails_with_the_whole_field(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,"' + b"x" * 200 + b'\nbob,bob@example.com\n"\n2,y\n'

    assert outcomes(read_all(content)) == [(2, "item_too_large"), (5, {"a": "2", "b": "y"})]


def test_an_unclosed_quote_rejects_the_input_naming_the_line_the_field_starts_on():
    content = b'a,b,c\n1,x,y\n2,"multi\nline","open\nmore\n'

    with pytest.raises(InputRejected, match=r"^line 4: a quoted field is never closed"):
        planned(content)


def test_an_unclosed_quote_past_the_item_limit_rejects_the_input(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,b\n1,x\n2,"open\n' + b"3,y\n" * 100

    with pytest.raises(InputRejected, match=r"^line 3: a quoted field is never closed"):
        planned(content)


def test_whitespace_only_lines_are_skipped_like_blank_ones():
    items = read_all(b"a,b\n1,x\n   \n2,y\n", chunk_size=10)

    assert [item.number for item in items] == [2, 4]
    assert all(item.error is None for item in items)


def test_a_header_over_the_item_limit_is_rejected_at_planning(settings):
    settings.BULKYARD_MAX_ITEM_BYTES = 100
    content = b'a,"long\n' + b"x" * 100 + b'",c\n1,2,3\n'

    with pytest.raises(InputRejected, match="line 1: the CSV header is longer than the 100-byte"):
        planned(content)


def test_a_duplicate_column_error_names_the_first_ten():
    header = ",".join(f"c{n % 20}" for n in range(40)).encode()

    with pytest.raises(InputRejected) as caught:
        planned(header + b"\n" + b"1\n")

    assert caught.value.message == (
        "line 1: duplicate column name(s): c0, c1, c10, c11, c12, c13, c14, c15, c16, c17 "
        "and 10 more"
    )
