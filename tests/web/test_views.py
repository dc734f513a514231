import io

import pytest
from django.contrib.auth.models import Permission

from bulkyard.jobs.models import Job, UserQuota

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def _upload(name: str, content: bytes) -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def test_pages_need_a_login(client):
    response = client.get("/jobs/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_upload_form_starts_a_job_and_shows_its_page(browser_client, user):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "text.stats",
            "params": '{"top_words": 2}',
            "file": _upload("t.csv", b"id,text\n1,hi\n"),
        },
    )

    job = Job.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["top_words"] == 2
    page = browser_client.get(response["Location"]).content.decode()
    assert f'data-job-ws="/ws/jobs/{job.pk}/"' in page
    assert f"/api/v1/jobs/{job.pk}/results/?outcome=failed&amp;format=csv" in page


def test_the_job_page_shows_the_warnings_of_its_submission(browser_client, user):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "test.echo",
            "params": '{"warning": "the moon is full"}',
            "file": _upload("t.jsonl", b'{"n": 1}\n'),
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Started, but: the moon is full." in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"params": "{nope"}, "Not valid JSON"),
        ({"params": "[1]"}, "must be a JSON object"),
        ({"name": "t.xlsx"}, "Upload a .csv, .jsonl or .zip file"),
        ({"content": b"id,body\n1,x\n"}, "lacks required column"),
        ({"params": '{"words_per_minute": 1}'}, "Input should be greater than or equal to 50"),
    ],
)
def test_the_upload_form_explains_what_is_wrong(browser_client, fields, error):
    upload = _upload(fields.get("name", "t.csv"), fields.get("content", b"id,text\n1,hi\n"))
    response = browser_client.post(
        "/jobs/new/", {"kind": "text.stats", "params": fields.get("params", ""), "file": upload}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Job.objects.exists()


def test_another_users_job_page_is_404(browser_client, other_client):
    other = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    assert browser_client.get(f"/jobs/{other['id']}/").status_code == 404
    assert browser_client.post(f"/jobs/{other['id']}/cancel/").status_code == 404


def test_the_cancel_button_cancels(browser_client, api_client):
    job = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    response = browser_client.post(f"/jobs/{job['id']}/cancel/", follow=True)

    assert Job.objects.get(pk=job["id"]).status == "cancelled"
    assert "Cancelled" in response.content.decode()


def test_the_job_list_shows_only_own_jobs(browser_client, api_client, other_client):
    mine = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()
    theirs = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    page = browser_client.get("/jobs/").content.decode()

    assert mine["id"][:8] in page
    assert theirs["id"][:8] not in page


def test_the_upload_form_sends_attachments_with_the_job(browser_client, user):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "email.send",
            "params": '{"subject": "Hi", "text": "Hello"}',
            "file": _upload("to.csv", b"email\nada@example.com\n"),
            "attachments": [_upload("terms.pdf", b"terms"), _upload("prices.csv", b"a,b\n")],
        },
    )

    assert response.status_code == 302
    job = Job.objects.get(owner=user)
    assert sorted(job.attachments.values_list("name", "size")) == [
        ("prices.csv", 4),
        ("terms.pdf", 5),
    ]


def test_the_upload_form_refuses_attachments_for_a_kind_without_them(browser_client, user):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "text.stats",
            "file": _upload("t.csv", b"id,text\n1,hi\n"),
            "attachments": [_upload("x.pdf", b"x")],
        },
    )

    assert response.status_code == 200
    assert "takes no attachments" in response.content.decode()
    assert not Job.objects.exists()


def test_the_upload_form_offers_high_priority_only_to_those_who_may_use_it(browser_client, user):
    before = browser_client.get("/jobs/new/").content.decode()
    user.user_permissions.add(Permission.objects.get(codename="use_high_priority"))
    after = browser_client.get("/jobs/new/").content.decode()

    assert 'value="low"' in before
    assert 'value="high"' not in before
    assert 'value="high"' in after


def test_the_upload_form_starts_a_job_with_the_chosen_priority(browser_client, user):
    browser_client.post(
        "/jobs/new/",
        {"kind": "test.echo", "priority": "low", "file": _upload("t.jsonl", b'{"n": 1}\n')},
    )

    assert Job.objects.get(owner=user).priority == "low"


def test_the_pause_button_pauses_and_the_resume_button_resumes(browser_client, api_client):
    job = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    paused = browser_client.post(f"/jobs/{job['id']}/pause/", follow=True).content.decode()
    status = Job.objects.get(pk=job["id"]).status
    browser_client.post(f"/jobs/{job['id']}/resume/")

    assert (status, Job.objects.get(pk=job["id"]).status) == ("paused", "queued")
    assert "Paused" in paused


def test_the_job_page_of_a_paused_job_shows_resume_and_hides_pause(browser_client, api_client):
    job = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()
    api_client.post(f"/api/v1/jobs/{job['id']}/pause/")

    page = browser_client.get(f"/jobs/{job['id']}/").content.decode()

    base = f'action="/jobs/{job["id"]}'
    assert f'{base}/pause/" data-show-when-status="queued running" hidden>' in page
    assert f'{base}/resume/" data-show-when-status="paused">' in page


@pytest.mark.parametrize("control", ["pause", "resume"])
def test_another_users_job_cannot_be_paused_or_resumed(browser_client, other_client, control):
    other = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    assert browser_client.post(f"/jobs/{other['id']}/{control}/").status_code == 404
    assert Job.objects.get(pk=other["id"]).status == "queued"


def test_pausing_takes_only_a_post(browser_client, api_client):
    job = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1]}, format="json"
    ).json()

    assert browser_client.get(f"/jobs/{job['id']}/pause/").status_code == 405


def test_a_cancelled_jobs_page_offers_the_items_that_never_ran(browser_client, api_client):
    job = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1, 2]}, format="json"
    ).json()
    running = browser_client.get(f"/jobs/{job['id']}/").content.decode()
    browser_client.post(f"/jobs/{job['id']}/cancel/")

    cancelled = browser_client.get(f"/jobs/{job['id']}/").content.decode()

    url = f"/api/v1/jobs/{job['id']}/results/?outcome=unprocessed"
    link = f'href="{url}" download data-job-unprocessed'
    assert f"{link} hidden>" in running
    assert f"{link}>" in cancelled


def test_the_upload_form_over_a_quota_is_429_naming_it(browser_client, user):
    UserQuota.objects.create(user=user, upload_bytes_per_day=10)

    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "test.echo",
            "params": '{"sleep_per_item": 1}',
            "file": _upload("t.jsonl", b'{"n": 1}\n' * 2),
        },
    )

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 24 * 3600
    page = response.content.decode()
    assert "quota upload_bytes_per_day" in page
    # The form comes back as it was sent (its file kept: test_job_form.py).
    assert "sleep_per_item" in page
    assert not Job.objects.exists()
