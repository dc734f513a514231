"""Wake-ups through the test run's real broker (Redis), on queues of their
own that no worker consumes."""

import uuid

import pytest
from celery import current_app

from bulkyard.jobs import dispatch


@pytest.fixture
def queue():
    name = f"test-wakeups-{uuid.uuid4().hex[:8]}"
    yield name
    with current_app.connection_for_write() as connection:
        connection.default_channel.queue_delete(name)


def test_a_queue_no_message_was_sent_to_holds_no_wakeups(queue):
    assert dispatch.waiting_wakeups([queue]) == {queue: 0}


def test_wakeups_sent_are_counted_until_taken(queue):
    dispatch.wake_chunk_workers(queue, 3)

    assert dispatch.waiting_wakeups([queue]) == {queue: 3}


def test_wakeups_carry_only_the_queue_to_claim_from(queue):
    dispatch.wake_chunk_workers(queue)

    with current_app.connection_for_write() as connection:
        message = connection.SimpleQueue(queue).get(timeout=5)
    try:
        assert message.headers["task"] == dispatch.RUN_NEXT_CHUNK
        assert message.payload[0] == [queue]
    finally:
        message.ack()
