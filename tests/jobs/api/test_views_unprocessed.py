"""GET /jobs/{id}/results/?outcome=unprocessed: the items of a finished job
that never ran, for its owner, in its input's format (bulkyard/jobs/api/views.py)."""

import pytest

from bulkyard.jobs.models import Job
from tests.support.engine import cancelled_job
from tests.support.jobs import submit_items

pytestmark = pytest.mark.django_db

JSONL = b"".join(b'{"n": %d}\n' % n for n in range(1, 8))


def _unprocessed(client, job_id, query: str = ""):
    return client.get(f"/api/v1/jobs/{job_id}/results/?outcome=unprocessed{query}")


def test_the_owner_downloads_the_items_that_never_ran(api_client, user, sent):
    job = cancelled_job(user, JSONL, stopped_after=[4, 5])

    response = _unprocessed(api_client, job.pk)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b'{"n": 6}\n{"n": 7}\n'
    assert response["X-Unprocessed-Count"] == "2"


def test_a_cancelled_job_links_its_unprocessed_items_and_counts_them(api_client, user, sent):
    job = cancelled_job(user, JSONL, stopped_after=[4, 5])

    data = api_client.get(f"/api/v1/jobs/{job.pk}/").json()

    assert data["unprocessed_items"] == 2
    assert data["links"]["unprocessed"].endswith(f"/jobs/{job.pk}/results/?outcome=unprocessed")


def test_a_job_that_is_still_running_is_409(api_client):
    job = submit_items(api_client, [{"n": 1}])
    Job.objects.filter(pk=job["id"]).update(status="running")

    response = _unprocessed(api_client, job["id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_finished"


def test_a_format_is_refused_as_the_items_come_in_the_inputs_own(api_client, user, sent):
    job = cancelled_job(user, JSONL, stopped_after=[4])

    response = _unprocessed(api_client, job.pk, "&format=jsonl")

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("format: unprocessed items come")
