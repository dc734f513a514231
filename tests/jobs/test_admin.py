import hashlib

import pytest
from django.core.files.base import ContentFile

from bulkyard.core.secrets import MASK
from bulkyard.jobs import services
from bulkyard.jobs.models import CallbackDelivery, CallbackStatus, Chunk, ItemResult, Job
from bulkyard.jobs.services import chunks, planning
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def _job(user, *, items: int = 30, params: dict | None = None) -> Job:
    body = b"".join(f'{{"n": {n}}}\n'.encode() for n in range(items))
    job, _ = services.job_create(
        owner=user,
        kind="test.echo",
        params=params or {},
        job_input=services.JobInput(
            file=ContentFile(body),
            format="jsonl",
            name="items.jsonl",
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
        ),
        chunk_size=10,
    )
    planning.job_plan(job_id=str(job.pk))
    return job


def test_the_job_list_shows_progress_and_filters(staff, user, sent):
    job = _job(user)
    chunks.chunk_run(chunk_id=Chunk.objects.filter(job=job).first().pk)

    page = staff.get("/admin/bulkyard_jobs/job/?status__exact=running").content.decode()

    assert str(job.pk)[:8] in page
    assert 'class="by-bar by-small"' in page
    assert "33%" in page
    assert "10/0/30" in page


def test_the_job_list_cuts_long_owner_names_to_fit(staff, sent):
    owner = UserFactory(username="someone.with.a.long.name@example.com")
    _job(owner)

    page = staff.get("/admin/bulkyard_jobs/job/").content.decode()

    assert '<span title="someone.with.a.long.name@example.com">someone.wit…</span>' in page


def test_the_job_list_shows_big_counts_in_short(staff, user, sent):
    job = _job(user)
    Job.objects.filter(pk=job.pk).update(
        succeeded_items=1_000_000, failed_items=12_345, total_items=1_012_345
    )

    page = staff.get("/admin/bulkyard_jobs/job/").content.decode()

    assert "1.00M/12.3k/1.01M" in page


def test_search_by_id_finds_the_job(staff, user, sent):
    wanted, other = _job(user), _job(user)

    page = staff.get(f"/admin/bulkyard_jobs/job/?q={wanted.pk}").content.decode()

    assert str(wanted.pk)[:8] in page
    assert str(other.pk)[:8] not in page


def test_the_job_page_shows_chunks_paginated_failures_and_downloads(staff, user, sent):
    job = _job(user, items=130, params={"fail_items": list(range(1, 131))})
    for chunk in Chunk.objects.filter(job=job):
        chunks.chunk_run(chunk_id=chunk.pk)

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()
    second = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/?failures=2").content.decode()

    assert page.count("<code>requested_failure</code>") == 50
    assert "page 1 of 3" in page
    assert "page 2 of 3" in second
    assert 'id="chunks"' in page
    assert f'data-job-ws="/ws/jobs/{job.pk}/"' in page
    assert f"/admin/bulkyard_jobs/job/{job.pk}/results/?outcome=failed&amp;format=csv" in page


def test_the_job_page_masks_secret_params(staff, user, sent):
    job = _job(user)
    Job.objects.filter(pk=job.pk).update(
        params={"smtp_password": "hunter2", "headers": {"Authorization": "Bearer abc"}, "n": 1}
    )

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()

    assert "hunter2" not in page
    assert "Bearer abc" not in page
    assert MASK in page


def test_staff_can_download_any_jobs_results(staff, user, sent):
    job = _job(user, items=3, params={"fail_items": [2]})
    chunks.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)

    response = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/results/?outcome=failed")

    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200
    assert body.splitlines()[1].startswith("2,failed,requested_failure")


def test_rerun_stalled_chunks_action_wakes_a_worker_per_pending_chunk(staff, user, sent):
    job = _job(user)

    response = staff.post(
        "/admin/bulkyard_jobs/job/",
        {"action": "rerun_stalled_chunks", "_selected_action": [str(job.pk)]},
        follow=True,
    )

    assert len(sent["bulkyard.io"]) == Chunk.objects.filter(job=job).count() == 3
    assert "Sent 3 stalled chunk(s)" in response.content.decode()


def test_cancel_action_cancels(staff, user, sent):
    job = _job(user)

    staff.post(
        "/admin/bulkyard_jobs/job/", {"action": "cancel_jobs", "_selected_action": [str(job.pk)]}
    )

    assert Job.objects.get(pk=job.pk).status == "cancelling"


def test_admin_downloads_mask_credentials_in_item_inputs(staff, user, sent):
    job = _job(user, items=1, params={"fail_items": [1]})
    chunks.chunk_run(chunk_id=Chunk.objects.get(job=job).pk)
    ItemResult.objects.filter(job=job).update(input={"to": "a@b.test", "api_key": "sk-123"})

    response = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/results/?format=jsonl")

    body = b"".join(response.streaming_content).decode()
    assert "sk-123" not in body
    assert "a@b.test" in body


def test_viewing_staff_may_not_run_actions_or_download(client, user, sent):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    job = _job(user)

    response = client.post(
        "/admin/bulkyard_jobs/job/", {"action": "cancel_jobs", "_selected_action": [str(job.pk)]}
    )

    assert Job.objects.get(pk=job.pk).status == "running"
    assert response.status_code == 200  # the list again, with "no action selected"
    assert client.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").status_code == 200


def test_staff_without_job_permissions_cannot_download_results(client, user, sent):
    client.force_login(UserFactory(is_staff=True))
    job = _job(user)

    assert client.get(f"/admin/bulkyard_jobs/job/{job.pk}/results/").status_code == 403


def test_the_job_page_lists_the_jobs_attachments(staff, user, sent):
    from django.core.files.base import ContentFile

    from bulkyard.jobs.models import JobAttachment

    job = _job(user)
    attachment = JobAttachment(
        job=job, name="<b>terms</b>.pdf", content_type="application/pdf", size=5, sha256="0" * 64
    )
    attachment.file.save("terms.pdf", ContentFile(b"terms"))

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()

    assert "&lt;b&gt;terms&lt;/b&gt;.pdf (5 bytes, application/pdf)" in page


def test_staff_set_the_priority_of_selected_jobs(staff, user, sent):
    job = _job(user)

    staff.post(
        "/admin/bulkyard_jobs/job/",
        {"action": "set_priority_high", "_selected_action": [str(job.pk)]},
    )

    assert Job.objects.get(pk=job.pk).priority == "high"


def test_pause_and_resume_actions_pause_and_resume(staff, user, sent):
    job = _job(user)
    changelist = "/admin/bulkyard_jobs/job/"

    staff.post(changelist, {"action": "pause_jobs", "_selected_action": [str(job.pk)]})
    paused = Job.objects.get(pk=job.pk).status
    staff.post(changelist, {"action": "resume_jobs", "_selected_action": [str(job.pk)]})

    assert (paused, Job.objects.get(pk=job.pk).status) == ("paused", "running")


def test_the_job_page_offers_pause_then_resume(staff, user, sent):
    job = _job(user)
    page = f"/admin/bulkyard_jobs/job/{job.pk}/change/"
    assert 'id="pause"' in staff.get(page).content.decode()

    response = staff.post(f"/admin/bulkyard_jobs/job/{job.pk}/pause/", follow=True)

    assert Job.objects.get(pk=job.pk).status == "paused"
    assert response.redirect_chain[-1][0] == page
    assert f'action="/admin/bulkyard_jobs/job/{job.pk}/resume/"' in response.content.decode()


def test_the_job_pages_pause_button_takes_only_a_post(staff, user, sent):
    job = _job(user)

    assert staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/pause/").status_code == 405
    assert Job.objects.get(pk=job.pk).status == "running"


def test_viewing_staff_may_not_pause(client, user, sent):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    job = _job(user)

    assert client.post(f"/admin/bulkyard_jobs/job/{job.pk}/pause/").status_code == 403
    assert (
        'id="pause"'
        not in client.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()
    )
    assert Job.objects.get(pk=job.pk).status == "running"


def test_the_job_page_shows_the_callback_and_never_its_secret(staff, user, sent):
    secret = "whsec_" + "QUJD" * 8
    job = _job(user)
    CallbackDelivery.objects.create(
        job=job,
        url="https://hooks.example.com/done?api_key=k3y",
        secret=secret,
        status=CallbackStatus.FAILED,
        attempts=1,
        last_status_code=410,
        last_error="the receiver answered 410 Gone",
    )

    page = staff.get(f"/admin/bulkyard_jobs/job/{job.pk}/change/").content.decode()

    assert f"https://hooks.example.com/done?api_key={MASK}" in page
    assert "failed, 1 attempt(s), last answer 410: the receiver answered 410 Gone" in page
    assert secret not in page
    assert "k3y" not in page
