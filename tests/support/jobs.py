"""Helpers to submit jobs through the API and wait for a real worker."""

import io
import time
from typing import Any

from rest_framework.test import APIClient

from bulkyard.jobs.models import JOB_FINISHED_STATUSES, Job

FINISHED = {str(status) for status in JOB_FINISHED_STATUSES}


def submit_items(
    client: APIClient, items: list[Any], *, kind: str = "test.echo", **fields: Any
) -> dict[str, Any]:
    response = client.post("/api/v1/jobs/", {"kind": kind, "items": items, **fields}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def submit_file(
    client: APIClient,
    content: bytes,
    *,
    name: str = "items.csv",
    kind: str = "test.echo",
    params: str = "{}",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    upload = io.BytesIO(content)
    upload.name = name
    return client.post(
        "/api/v1/jobs/",
        {"kind": kind, "params": params, "file": upload, **fields},
        format="multipart",
        headers=headers,
    )


def wait_for_job(job_id: str, *, statuses: set[str] = FINISHED, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job_id} still {job.status} after {timeout} s "
                f"({job.processed_items}/{job.total_items} items, "
                f"{job.chunks_finished}/{job.chunks_total} chunks)"
            )
        time.sleep(0.1)


def wait_until(predicate: Any, *, timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached after {timeout} s")
        time.sleep(0.05)


def may_use_contacts(user: Any) -> None:
    """Let ``user`` import into, export and email their own contacts (the
    permissions a plain user lacks until granted)."""
    from bulkyard.targets.access import OPERATIONS
    from bulkyard.targets.registry import get_target
    from bulkyard.targets.services import target_grant

    target_grant(user=user, target=get_target("contacts"), operations=OPERATIONS)
