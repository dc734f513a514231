"""Pieces of the client that need no network."""

import email.utils
import time

from multidict import CIMultiDict

from bulkyard.core.http.client import (
    CallOptions,
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


def test_call_options_from_settings_take_the_servers_limits(settings):
    settings.BULKYARD_HTTP_READ_TIMEOUT = 7.0
    settings.BULKYARD_HTTP_HOST_CONCURRENCY = 3

    options = CallOptions.from_settings()

    assert options.read_timeout == 7.0
    assert options.max_body_bytes == settings.BULKYARD_HTTP_MAX_BODY_BYTES
    assert options.host_limits.concurrency == 3
    assert options.host_limits.rate_per_second == settings.BULKYARD_HTTP_HOST_RATE_PER_SECOND
    assert options.user_agent == settings.BULKYARD_HTTP_USER_AGENT


def test_call_options_given_values_take_the_place_of_the_settings(settings):
    options = CallOptions.from_settings(
        read_timeout=2.5, max_attempts=1, follow_redirects=False, host_rate_per_second=0.5
    )

    assert (options.read_timeout, options.max_attempts, options.follow_redirects) == (
        2.5,
        1,
        False,
    )
    assert options.host_limits.rate_per_second == 0.5
    assert options.host_limits.concurrency == settings.BULKYARD_HTTP_HOST_CONCURRENCY
