"""Wake-ups: the only messages the engine sends through the broker.

Work itself lives in PostgreSQL: a pending chunk, a queued job to plan, a job
whose chunks are all done and which needs its finish step, a completion
callback due. A wake-up tells one worker "claim the next piece of work of this
kind on this queue"; it names no job and no chunk, so a lost, duplicated or
late wake-up loses nothing and does nothing twice (decision 0009). The sweeper
compares the work waiting in the database with the wake-ups waiting in the
broker and sends what is missing.

Tasks are sent by name, so this module needs nothing from the task module
(whose tasks call the services that call these).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

RUN_NEXT_CHUNK = "bulkyard.jobs.tasks.run_next_chunk"
RUN_NEXT_JOB_STEP = "bulkyard.jobs.tasks.run_next_job_step"
DELIVER_NEXT_CALLBACK = "bulkyard.jobs.tasks.deliver_next_callback"


def wake_chunk_workers(queue: str, count: int = 1, *, countdown: float = 0) -> None:
    """Ask ``count`` workers of ``queue`` to claim a chunk each."""
    _send(RUN_NEXT_CHUNK, args=(queue,), queue=queue, count=count, countdown=countdown)


def wake_step_worker(count: int = 1) -> None:
    """Ask a worker of the control queue to plan or finish the next job that needs it."""
    _send(RUN_NEXT_JOB_STEP, args=(), queue=settings.BULKYARD_QUEUE_CONTROL, count=count)


def wake_callback_worker(count: int = 1) -> None:
    """Ask a worker of the control queue to send the next completion callback due."""
    _send(DELIVER_NEXT_CALLBACK, args=(), queue=settings.BULKYARD_QUEUE_CONTROL, count=count)


def _send(
    name: str, *, args: tuple[str, ...], queue: str, count: int, countdown: float = 0
) -> None:
    if count <= 0:
        return
    app = current_app
    # One connection for the lot: planning wakes a worker per chunk.
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(name, args=args, queue=queue, countdown=countdown, producer=producer)


def waiting_wakeups(queues: list[str]) -> dict[str, int]:
    """Messages ready in each queue of the broker (not those a worker holds).

    A queue the broker does not know (no message was ever sent to it, or
    Redis emptied it) holds none. Raises if the broker cannot be reached.
    """
    counts: dict[str, int] = {}
    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        # AMQP: a passive declaration, which creates nothing. kombu's virtual
        # transports (Redis, the embedded file broker) create nothing on a
        # declaration either, and their passive one is wrong under a key
        # prefix (kombu's Redis transport does not prefix EXISTS).
        passive = connection.transport.driver_type == "amqp"
        for queue in queues:
            # A channel per queue: AMQP closes the channel of a failed
            # passive declaration.
            channel: Any = connection.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=passive)
                counts[queue] = int(declared.message_count)
            except connection.channel_errors:
                counts[queue] = 0
            finally:
                try:
                    channel.close()
                except Exception:  # already closed by the broker
                    logger.debug("closing a channel after a passive declare failed", exc_info=True)
    return counts
