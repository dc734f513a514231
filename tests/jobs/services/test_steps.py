"""Job steps as a worker of the control queue takes them on
(bulkyard/jobs/services/steps.py)."""

import psycopg
import pytest
from django.utils import timezone

from bulkyard.jobs.inputs import readers
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.services import claims, steps
from tests.support.engine import created_job, planned_job, run_every_chunk
from tests.support.kinds import EchoKind

pytestmark = pytest.mark.django_db


def test_with_nothing_to_plan_or_finish_a_step_worker_is_idle(user, sent):
    assert steps.job_step_run_next() == "idle"


def test_the_next_step_plans_a_queued_job(user, sent):
    job = created_job(user, b'{"n": 1}\n')

    assert steps.job_step_run_next() == "planned"
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_next_step_finishes_a_job_whose_chunks_are_done(user, sent):
    job = planned_job(user)
    run_every_chunk(job)

    assert steps.job_step_run_next() == "succeeded"
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def _lost_too_often(job, settings):
    Job.objects.filter(pk=job.pk).update(
        step_attempts=settings.BULKYARD_CHUNK_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - timezone.timedelta(seconds=1),
        lease_token=None,
    )


def test_planning_that_keeps_losing_its_worker_fails_the_job(user, sent, settings):
    job = created_job(user, b'{"n": 1}\n')
    _lost_too_often(job, settings)

    assert steps.job_step_run_next() == "failed"
    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "planning_failed")
    assert "lost its worker 3 times" in failed.error_message


def test_a_finish_that_keeps_losing_its_worker_fails_the_job(user, sent, settings):
    job = planned_job(user)
    run_every_chunk(job)
    _lost_too_often(job, settings)

    assert steps.job_step_run_next() == "failed"
    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "finish_failed")
    assert failed.finished_at is not None


def test_an_outage_during_a_step_gives_it_back_uncounted(user, sent, monkeypatch):
    job = planned_job(user)
    run_every_chunk(job)

    def database_away(self, ctx):
        psycopg.connect("postgres://postgres@127.0.0.1:1/none", connect_timeout=2)

    monkeypatch.setattr(EchoKind, "finish", database_away)

    assert steps.job_step_run_next() == "released"
    after = Job.objects.get(pk=job.pk)
    assert (after.status, after.lease_token, after.step_attempts) == (JobStatus.RUNNING, None, 0)
    assert sent["steps"] == [0]


def test_an_outage_while_planning_does_not_fail_the_job(user, sent, monkeypatch):
    job = created_job(user, b'{"n": 1}\n')

    def database_away(*args, **kwargs):
        psycopg.connect("postgres://postgres@127.0.0.1:1/none", connect_timeout=2)

    monkeypatch.setattr(readers, "plan_input", database_away)

    assert steps.job_step_run_next() == "released"
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    assert claims.job_step_claim_next().attempts == 1
