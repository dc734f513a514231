"""What the database would refuse in a result, found before it is written."""

import pytest

from bulkyard.jobs.storing import storable_json, storable_text


@pytest.mark.parametrize(
    "value",
    [None, 1, 10**40, "text", {"a": [1, 2.5, "é", True]}, [], {"nested": {"deep": [None]}}],
)
def test_values_jsonb_takes_are_kept_as_they_are(value):
    assert storable_json(value) == (value, "")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"x": float("nan")}, "NaN or infinite number"),
        ([float("inf")], "NaN or infinite number"),
        ({"x": "a\x00b"}, "NUL character"),
        ("a\x00b", "NUL character"),
        ({"x": "\udc80"}, "lone surrogate"),
        ({"x": object()}, "not JSON"),
    ],
)
def test_values_jsonb_refuses_become_a_note_with_the_reason(value, reason):
    stored, why = storable_json(value)

    assert why == reason
    assert stored["content_omitted"] is True
    assert reason.split()[0].lower() in stored["not_stored"].lower() or "JSON" in reason
    assert storable_json(stored) == (stored, "")


def test_a_value_nested_too_deeply_becomes_a_note():
    value: list = []
    for _ in range(100_000):
        value = [value]

    stored, why = storable_json(value)

    assert why == "nested too deeply"
    assert stored["preview"]


def test_text_loses_nul_and_lone_surrogates_and_is_cut():
    assert storable_text("a\x00b\udc80c" + "x" * 10, limit=6) == "a\ufffdb?cx"
