"""Call options from the server's settings, narrowed by what a caller gives."""

from bulkyard.core.http.options import CallOptions


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
