"""Rows into requests."""

import json

import pytest

from bulkyard.core.secrets import MASK
from bulkyard.jobs.kinds import ItemError
from bulkyard.outbound.kinds import stored_input
from bulkyard.outbound.specs import checked_headers, delivery_id, fill, fill_json, request_spec


def test_a_url_value_is_percent_encoded_so_it_stays_one_segment():
    url = fill(
        "https://api.example.com/u/{id}?q={q}",
        {"id": "a/b", "q": "x&admin=1"},
        where="line 2",
        in_url=True,
    )

    assert url == "https://api.example.com/u/a%2Fb?q=x%26admin%3D1"


def test_a_url_that_is_one_placeholder_takes_the_value_as_it_is():
    assert fill("{url}", {"url": "https://x.example/a?b=1"}, where="l", in_url=True) == (
        "https://x.example/a?b=1"
    )


def test_a_missing_value_fails_the_row_naming_it():
    with pytest.raises(ItemError, match="'id'"):
        fill("/u/{id}", {}, where="line 3")


def test_a_json_placeholder_alone_keeps_the_values_type():
    body = fill_json({"n": "{n}", "label": "item {n}", "list": ["{n}"]}, {"n": 7}, where="l")

    assert body == {"n": 7, "label": "item 7", "list": [7]}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"X-A": "one\r\nX-Injected: 1"}, "invalid_headers"),
        # HTTP allows no control character in a value but the tab (RFC 9110).
        ({"X-A": "vertical\vtab"}, "invalid_headers"),
        ({"X-A": "escape\x1b[0m"}, "invalid_headers"),
        ({"X-A": "delete\x7f"}, "invalid_headers"),
        ({"Bad Name": "v"}, "invalid_headers"),
        ({"Host": "evil.example"}, "invalid_headers"),
        ("not json", "invalid_headers"),
        ('["a list"]', "invalid_headers"),
        ({"Authorization": MASK}, "secret_not_kept"),
    ],
)
def test_bad_headers_fail_the_row(headers, code):
    with pytest.raises(ItemError) as caught:
        checked_headers(headers, where="line 2")

    assert caught.value.code == code


def test_a_tab_in_a_header_value_is_kept():
    assert checked_headers({"X-A": "a\tb"}, where="line 2") == {"X-A": "a\tb"}


def test_headers_may_come_as_json_text_from_a_csv_cell():
    assert checked_headers('{"X-A": "1", "X-B": 2}', where="l") == {"X-A": "1", "X-B": "2"}


def test_a_json_body_sets_its_content_type_and_a_post_is_not_replay_safe():
    spec = request_spec(
        1,
        method="post",
        url="https://x.example/",
        headers={},
        body=None,
        json_body={"a": 1},
        where="l",
    )

    assert (spec.method, spec.body, spec.replay_safe) == ("POST", b'{"a": 1}', False)
    assert spec.headers["Content-Type"] == "application/json"


def test_a_post_with_an_idempotency_key_is_replay_safe():
    spec = request_spec(
        1,
        method="POST",
        url="https://x.example/",
        headers={"Idempotency-Key": "k1"},
        body="x",
        json_body=None,
        where="l",
    )

    assert spec.replay_safe


def test_a_delivery_id_is_stable_for_a_job_and_row_and_differs_between_rows():
    assert delivery_id("job-1", 5) == delivery_id("job-1", 5)
    assert delivery_id("job-1", 5) != delivery_id("job-1", 6)


def test_a_stored_failure_masks_secret_headers_also_in_a_csv_cell():
    stored = stored_input({"url": "u", "headers": '{"Authorization": "Bearer s3cret", "X-A": "1"}'})

    assert json.loads(stored["headers"]) == {"Authorization": MASK, "X-A": "1"}
