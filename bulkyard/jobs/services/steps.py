"""A job's own steps, planning and finishing, as a worker of the control queue
takes them on: claim the next one due, run it, and cope with a step that
keeps losing its worker or that an outage interrupts."""

from __future__ import annotations

import logging

from django.conf import settings

from bulkyard.core import metrics
from bulkyard.core.logs import log_context
from bulkyard.core.outages import is_outage, when_reachable
from bulkyard.jobs import dispatch
from bulkyard.jobs.models import Job
from bulkyard.jobs.services.claims import ClaimedStep, job_step_claim_next, step_lease_release
from bulkyard.jobs.services.finishing import job_fail_step_lost, job_finish_claimed
from bulkyard.jobs.services.planning import job_fail, job_plan_claimed

logger = logging.getLogger(__name__)


def job_step_run_next() -> str:
    """Plan or finish the oldest job that needs it; ``idle`` if none does."""
    claimed = job_step_claim_next()
    if claimed is None:
        return "idle"
    return job_step_run(claimed)


def job_step_run(claimed: ClaimedStep) -> str:
    kind, owner_id = Job.objects.values_list("kind", "owner_id").get(pk=claimed.job_id)
    # Every log line of the step (the kind's, Celery's own) names its job.
    with log_context(
        job_id=claimed.job_id, step=claimed.step, kind=kind, owner=owner_id, until_task_ends=True
    ):
        if claimed.attempts > 1:
            # An earlier claim of this step lost its worker: its lease ran out.
            metrics.LEASE_EXPIRIES.labels("step").inc()
        return _job_step_run(claimed)


def _job_step_run(claimed: ClaimedStep) -> str:
    if claimed.attempts > settings.BULKYARD_CHUNK_MAX_ATTEMPTS:
        # Each earlier claim ended with its worker lost (a crash, a kill, the
        # time limit): the same would happen again.
        logger.error("job %s: its %s step lost its worker too often", claimed.job_id, claimed.step)
        if claimed.step == "plan":
            job_fail(
                job_id=claimed.job_id,
                code="planning_failed",
                message=f"planning lost its worker {claimed.attempts - 1} times",
            )
        else:
            job_fail_step_lost(claimed=claimed)
        return "failed"
    try:
        if claimed.step == "plan":
            return job_plan_claimed(claimed)
        return job_finish_claimed(claimed)
    except Exception as exc:
        if not is_outage(exc):
            raise
        logger.warning(
            "job %s: a service went away during its %s step", claimed.job_id, claimed.step
        )
        released = when_reachable(
            lambda: step_lease_release(
                job_id=claimed.job_id, token=claimed.token, attempt_counts=False
            ),
            within=settings.BULKYARD_CHUNK_LEASE_SECONDS,
            what=f"job {claimed.job_id}",
        )
        if released:
            try:
                dispatch.wake_step_worker()
            except Exception:
                logger.warning("could not wake a step worker; the sweeper will", exc_info=True)
        return "released"
