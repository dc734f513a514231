"""Pieces of the client that need no network."""

import email.utils
import time

from multidict import CIMultiDict

from bulkyard.core.http.client import (
    RequestSpec,
    _Answer,
    _body_text,
    _retry_after,
    _secret_values,
)


def _answer(body: bytes, *, truncated: bool) -> _Answer:
    return _Answer(200, "OK", CIMultiDict(), body, truncated, "u", 0, 0.1)


def test_a_body_cut_inside_a_character_is_kept_as_text_without_that_character():
    assert _body_text(_answer("abcé".encode()[:-1], truncated=True)) == ("abc", "utf-8")


def test_a_body_that_is_not_utf8_is_kept_as_base64():
    assert _body_text(_answer(b"\xff\xfe\x00", truncated=False)) == ("//4A", "base64")


def test_retry_after_in_seconds_or_as_a_date():
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)

    assert _retry_after("7") == 7.0
    assert 8 <= (_retry_after(in_ten) or 0) <= 10
    assert _retry_after("soon") is None


def test_secret_header_values_and_bearer_tokens_are_scrubbed_longest_first():
    spec = RequestSpec(1, "GET", "u", headers={"Authorization": "Bearer abcdef123", "X-A": "v"})

    assert _secret_values(spec) == ["Bearer abcdef123", "abcdef123"]
