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


def job_group(job_id: object) -> str:
    return f"job-{job_id}"


def user_group(user_id: object) -> str:
    return f"user-{user_id}"


def job_changed(*, job_id: str, owner_id: int, force: bool = False) -> None:
    """Publish that a job changed; ``force`` for status changes, which are
    never coalesced away."""
    now = time.monotonic()
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
    except Exception:
        logger.warning("could not publish a change of job %s", job_id, exc_info=True)
