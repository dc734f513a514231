"""Inputs cut down to some of their items (bulkyard/jobs/inputs/extracts.py):
the same records, byte for byte, in the same format."""

import io
import json

import pytest

from bulkyard.jobs.inputs import Remainder, Span, reader_for
from bulkyard.jobs.inputs.extracts import COPY_BLOCK_BYTES
from tests.support.inputs import CORPUS, outcomes, planned, read_all


def _extract(content: bytes, fmt: str, remainders, header=None) -> bytes:
    return b"".join(reader_for(fmt).extract(io.BytesIO(content), remainders, header=header))


def _all_but(span: Span, *numbers: int) -> Remainder:
    return Remainder(span, done=[[n, n] for n in sorted(numbers)])


def test_a_remainder_takes_the_numbers_outside_its_done_ranges():
    remainder = Remainder(Span(0, 0, 1, 1, 0), done=[[3, 5], [9, 9]])

    assert [n for n in range(1, 12) if remainder.takes(n)] == [1, 2, 6, 7, 8, 10, 11]


def test_csv_spans_left_whole_come_after_the_header_byte_for_byte():
    content = b'\xef\xbb\xbfid,text\r\n1,"a\r\nb"\r\n2,x\r\n3,y\r\n4,z\r\n5,w\r\n'
    plan = planned(content, chunk_size=2)

    extracted = _extract(content, "csv", [Remainder(plan.spans[0]), Remainder(plan.spans[2])])

    assert extracted == b'\xef\xbb\xbfid,text\r\n1,"a\r\nb"\r\n2,x\r\n5,w\r\n'


def test_csv_records_with_quoted_cells_over_several_lines_are_copied_byte_for_byte():
    records = [
        b'1,"first line\nsecond, with a comma\n""quoted"" third"\n',
        b"2,plain\n",
        b'3,"caf\xc3\xa9\r\n\r\nblank line above"\n',
        b'4,"ends without a newline"',
    ]
    content = b"id,text\n" + b"".join(records)
    (span,) = planned(content, chunk_size=10).spans

    # Record 3 starts on line 6.
    extracted = _extract(content, "csv", [_all_but(span, 6)], header=["id", "text"])

    assert extracted == b"id,text\n" + records[0] + records[1] + records[3]


def test_jsonl_keeps_the_lines_of_the_items_left():
    content = b'{"n": 1}\n\n{"n": 2}\n{"n":  3 ,"x":"\\u00e9"}\n{"n": 4}\n'
    (span,) = planned(content, "jsonl", chunk_size=10).spans

    extracted = _extract(content, "jsonl", [_all_but(span, 1, 5)])

    assert extracted == b'\n{"n": 2}\n{"n":  3 ,"x":"\\u00e9"}\n'


def test_neighbouring_spans_are_copied_as_one_range_in_blocks():
    rows = b"".join(b"%d,%s\n" % (n, b"x" * 1000) for n in range(3000))
    content = b"id,text\n" + rows
    plan = planned(content, chunk_size=1000)

    pieces = list(
        reader_for("csv").extract(
            io.BytesIO(content), [Remainder(s) for s in plan.spans], header=None
        )
    )

    assert b"".join(pieces) == content
    assert max(len(piece) for piece in pieces) == COPY_BLOCK_BYTES


def test_a_retry_file_becomes_json_lines_of_its_items():
    content = (
        b'{"n": 4, "item": {"id": "a"}}\n{"n": 9, "item": [1, "\xc3\xa9"]}\n{"n": 12, "item": 3}\n'
    )
    (span,) = planned(content, "retry", chunk_size=10).spans

    extracted = _extract(content, "retry", [_all_but(span, 12)])

    assert extracted.decode().splitlines() == ['{"id": "a"}', '[1, "é"]']


def test_a_whole_retry_file_becomes_json_lines_of_every_item():
    content = b'{"n": 4, "item": {"id": "a"}}\n{"n": 9, "item": {"id": "b"}}\n'

    extracted = _extract(content, "retry", None)

    assert [json.loads(line) for line in extracted.splitlines()] == [{"id": "a"}, {"id": "b"}]


def test_a_whole_input_is_copied_as_it_is():
    content = b"id,text\n1,a\n\n2,b"

    assert _extract(content, "csv", None) == content


@pytest.mark.parametrize("name", [name for name, case in CORPUS.items() if not case.rejected])
def test_every_other_item_of_a_hostile_input_reads_back_as_it_was(name):
    case = CORPUS[name]
    plan = planned(case.content, case.fmt, chunk_size=3)
    items = read_all(case.content, case.fmt, chunk_size=3)
    done = {item.number for item in items[1::2]}
    remainders = [Remainder(span, done=[[n, n] for n in sorted(done)]) for span in plan.spans]

    extracted = _extract(case.content, case.fmt, remainders, header=plan.header)

    left = [item for item in items if item.number not in done]
    again = read_all(extracted, case.fmt, chunk_size=3) if left else []
    assert [data for _, data in outcomes(again)] == [data for _, data in outcomes(left)]
