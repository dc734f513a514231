"""Celery entry points of the engine: thin wrappers over ``services``.

Each takes ids only and is safe to run twice (the services guard every step
with conditional updates), which is what late acks and redelivery require.
"""

from dataclasses import asdict
from typing import Any

from celery import shared_task

from bulkyard.jobs import services


@shared_task(name="bulkyard.jobs.tasks.plan_job")
def plan_job(job_id: str) -> str:
    return services.job_plan(job_id=job_id)


@shared_task(name="bulkyard.jobs.tasks.run_chunk")
def run_chunk(chunk_id: int) -> str:
    return services.chunk_run(chunk_id=chunk_id)


@shared_task(name="bulkyard.jobs.tasks.finalize_job")
def finalize_job(job_id: str) -> str:
    return services.job_finalize(job_id=job_id)


@shared_task(name="bulkyard.jobs.tasks.sweep_stalled_work")
def sweep_stalled_work() -> dict[str, Any]:
    return asdict(services.sweep_stalled_work())
