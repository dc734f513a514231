"""Web and worker on hosts that do not share the storage (decision 0028): the
job fails at once with an error that names the cause, and never waits."""

import pytest

from bulkyard.jobs.models import Chunk, JobStatus
from tests.support.jobs import submit_file, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_that_cannot_see_the_webs_upload_fails_the_job_as_input_missing(
    api_client, worker, settings, tmp_path
):
    # The worker keeps DJANGO_MEDIA_ROOT of its own; the web's is another folder,
    # as on two machines each with a local disk.
    settings.MEDIA_ROOT = str(tmp_path / "web-host-media")
    response = submit_file(api_client, b"name\na\nb\n", name="items.csv")
    assert response.status_code == 202, response.content

    done = wait_for_job(response.json()["id"], timeout=30)

    assert done.status == JobStatus.FAILED
    assert done.error_code == "input_missing"
    assert "must share DJANGO_MEDIA_ROOT or use object storage" in done.error_message
    assert worker.env["DJANGO_MEDIA_ROOT"] in done.error_message
    assert not Chunk.objects.filter(job=done).exists()
