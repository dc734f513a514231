from collections.abc import Callable
from typing import Any

import pytest

from bulkyard.jobs.models import Job
from bulkyard.jobs.services import finishing, planning
from tests.support.engine import created_job, run_every_chunk


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def finished_job(user) -> Callable[..., Job]:
    """A job of the test kind run to its end in-process (no worker): its
    ``fail_items`` fail with ``requested_failure``; CSV rows the reader cannot
    read fail with its codes."""

    def make(body: bytes, *, fmt: str = "csv", owner: Any = None, **params: Any) -> Job:
        job = created_job(owner or user, body, fmt=fmt, params=params)
        assert planning.job_plan(job_id=str(job.pk)) == "planned"
        run_every_chunk(job)
        finishing.job_finalize(job_id=str(job.pk))
        return Job.objects.get(pk=job.pk)

    return make
