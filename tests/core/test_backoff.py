from bulkyard.core.backoff import backoff_seconds


def test_the_wait_grows_with_each_attempt_up_to_the_cap():
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 30.0)):
        waits = [backoff_seconds(attempt, base=2.0, cap=30.0) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        # Full jitter: the waits spread over the whole range, not near its top.
        assert min(waits) < ceiling / 2 < max(waits)
