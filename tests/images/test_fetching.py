"""The limits image downloads run under."""

from bulkyard.images.fetching import MAX_ATTEMPTS, MAX_RETRY_AFTER_SECONDS, _options


def test_downloads_keep_their_own_tighter_limits_by_default():
    options = _options()

    assert (options.max_attempts, options.max_retry_after) == (
        MAX_ATTEMPTS,
        MAX_RETRY_AFTER_SECONDS,
    )


def test_an_operators_lower_http_limits_apply_to_downloads_too(settings):
    settings.BULKYARD_HTTP_MAX_ATTEMPTS = 1
    settings.BULKYARD_HTTP_MAX_RETRY_AFTER = 5.0

    options = _options()

    assert (options.max_attempts, options.max_retry_after) == (1, 5.0)
