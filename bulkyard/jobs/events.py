"""Telling WebSocket consumers that a job changed.

An event carries only the job id: consumers read the state from PostgreSQL,
so a lost or late event can only delay a view, never show a wrong state.
Publishing is best effort and never interrupts the work that triggered it.
"""

import logging
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# Seconds between two events for the same job from one process: chunks can
# finish many times a second, viewers need a few updates a second at most.
MIN_EVENT_INTERVAL = 0.2
_last_sent: dict[str, float] = {}
# After a failed publish (Redis away), events are not even tried for this
# long: a worker committing chunks during an outage must not pay a connection
# attempt, and a logged traceback, per chunk. Viewers re-read the database.
QUIET_AFTER_FAILURE_SECONDS = 5.0
_quiet_until = 0.0


def job_group(job_id: object) -> str:
    return f"job-{job_id}"


def user_group(user_id: object) -> str:
    return f"user-{user_id}"


def job_changed(*, job_id: str, owner_id: int, force: bool = False) -> None:
    """Publish that a job changed; ``force`` for status changes, which are
    never coalesced away."""
    global _quiet_until
    now = time.monotonic()
    if now < _quiet_until:
        return
    if not force and now - _last_sent.get(job_id, 0.0) < MIN_EVENT_INTERVAL:
        return
    _last_sent[job_id] = now
    if len(_last_sent) > 10_000:
        _last_sent.clear()
    layer = get_channel_layer()
    if layer is None:
        return
    # The id tells the consumers in a web process that they were told of the
    # same change, so that one read of the job serves them all.
    event = {"type": "job.changed", "job_id": job_id, "event_id": uuid.uuid4().hex}

    async def send_both() -> None:
        await layer.group_send(job_group(job_id), event)
        await layer.group_send(user_group(owner_id), event)

    try:
        async_to_sync(send_both)()
    except Exception as exc:
        _quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_SECONDS
        logger.warning(
            "could not publish a change of job %s (%s: %s); not trying for %.0f s",
            job_id,
            type(exc).__name__,
            exc,
            QUIET_AFTER_FAILURE_SECONDS,
        )
