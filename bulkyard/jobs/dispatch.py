"""Sending engine tasks to the broker. Call these from ``transaction.on_commit``.

Imports of the task module are deferred: tasks call services, and services
call these, so a top-level import would be circular.
"""

import random

from django.conf import settings


def enqueue_plan(job_id: str) -> None:
    from bulkyard.jobs import tasks

    tasks.plan_job.apply_async(args=(job_id,), queue=settings.BULKYARD_QUEUE_CONTROL)


def enqueue_chunks(chunk_ids: list[int], *, queue: str, countdown: float = 0) -> None:
    from bulkyard.jobs import tasks

    for chunk_id in chunk_ids:
        tasks.run_chunk.apply_async(args=(chunk_id,), queue=queue, countdown=countdown)


def enqueue_finalize(job_id: str) -> None:
    from bulkyard.jobs import tasks

    tasks.finalize_job.apply_async(args=(job_id,), queue=settings.BULKYARD_QUEUE_CONTROL)


def backoff_seconds(attempt: int, *, base: float = 5.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's recipe)."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))
