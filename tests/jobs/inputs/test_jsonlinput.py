"""JSON Lines reading (bulkyard/jobs/inputs/jsonlinput.py): values refused per item."""

import pytest

from bulkyard.jobs.inputs import MAX_ITEM_DEPTH, nested_too_deeply
from tests.support.inputs import outcomes, read_all


def test_jsonl_lines_are_items_and_bad_lines_fail_alone():
    content = b'{"a": 1}\n\n[1, 2]\n{"broken": \n"text"\n'

    items = read_all(content, "jsonl", chunk_size=2)

    assert [(item.number, item.data) for item in items if not item.error] == [
        (1, {"a": 1}),
        (3, [1, 2]),
        (5, "text"),
    ]
    broken = next(item for item in items if item.error)
    assert (broken.number, broken.error.code) == (4, "invalid_json")
    assert broken.error.message.startswith("line 4:")


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
    items = read_all(line + b'\n{"ok": "\\\\u0000 is just text"}\n', "jsonl")

    assert items[0].error is not None
    assert items[0].error.code == code
    assert items[1].data == {"ok": "\\u0000 is just text"}


def test_a_value_nested_deeper_than_the_limit_with_a_unicode_escape_fails_alone():
    deep = b'{"a": ' * 600 + b'"\\u00e9"' + b"}" * 600

    items = read_all(deep + b'\n{"ok": 1}\n', "jsonl")

    assert outcomes(items) == [(1, "nested_too_deeply"), (2, {"ok": 1})]
    assert items[0].error.message == "line 1: nested more than 100 levels deep"


def test_values_are_nested_up_to_the_limit():
    at_limit = b"[" * 100 + b"]" * 100
    over = b"[" * 101 + b"]" * 101

    items = read_all(at_limit + b"\n" + over + b"\n", "jsonl")

    assert [(item.number, item.error and item.error.code) for item in items] == [
        (1, None),
        (2, "nested_too_deeply"),
    ]


def _objects(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [MAX_ITEM_DEPTH, MAX_ITEM_DEPTH + 1])
def test_nested_too_deeply_counts_levels_as_the_reader_does(depth):
    line = b'{"a": ' * depth + b"1" + b"}" * depth

    [read] = read_all(line + b"\n", "jsonl")

    assert nested_too_deeply(_objects(depth)) == (read.error is not None)
    assert nested_too_deeply(_objects(depth)) == (depth > MAX_ITEM_DEPTH)


def test_nested_too_deeply_answers_for_values_deeper_than_the_recursion_limit():
    assert nested_too_deeply(_objects(50_000))


def test_brackets_inside_strings_are_not_nesting():
    line = b'{"text": "' + b"[{" * 200 + b'"}'

    assert outcomes(read_all(line + b"\n", "jsonl")) == [(1, {"text": "[{" * 200})]


def test_the_item_of_a_retry_line_is_held_to_the_nesting_limit_without_its_envelope():
    at_limit = "[" * 100 + "]" * 100
    content = f'{{"n": 4, "item": {at_limit}}}\n'.encode()

    assert [(item.number, item.error) for item in read_all(content, "retry")] == [(4, None)]


@pytest.mark.parametrize("number", [b"1e999999", b"-1e400", b"1.8e308", b"1" + b"0" * 400 + b".5"])
def test_a_json_number_beyond_the_float_range_fails_the_item(number):
    items = read_all(b'{"x": ' + number + b'}\n{"ok": 1}\n', "jsonl")

    assert outcomes(items) == [(1, "invalid_json"), (2, {"ok": 1})]
    assert items[0].error.message.startswith("line 1: the number ")


def test_json_numbers_near_the_float_range_are_read():
    items = read_all(b"[1.7976931348623157e308, -1e308, 1e-400]\n", "jsonl")

    assert outcomes(items) == [(1, [1.7976931348623157e308, -1e308, 0.0])]


def test_big_json_integers_are_read_exactly():
    big = "9" * 4300

    assert outcomes(read_all(f'{{"x": {big}}}\n'.encode(), "jsonl")) == [(1, {"x": int(big)})]


def test_a_json_integer_over_pythons_digit_limit_fails_the_item():
    items = read_all(b'{"x": ' + b"9" * 5000 + b'}\n{"ok": 1}\n', "jsonl")

    assert outcomes(items) == [(1, "invalid_json"), (2, {"ok": 1})]
    assert items[0].error.message == "line 1: a number has more than 4300 digits"
