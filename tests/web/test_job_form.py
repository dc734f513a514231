"""The new-job page: fields made from each kind's schema, the file kept after
a refused submission, the dry-run preview."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bulkyard.jobs.models import Job, UserQuota
from bulkyard.web.models import PendingUpload
from bulkyard.web.tasks import purge_pending_uploads
from tests.support import s3
from tests.support.jobs import may_use_contacts

pytestmark = pytest.mark.django_db

CONTACTS = b"email,name,age\nada@example.com,Ada,36\nbob@example.com,Bob,old\n"


@pytest.fixture
def browser_client(client, user):
    may_use_contacts(user)
    client.force_login(user)
    return client


def _upload(content: bytes = CONTACTS, name: str = "contacts.csv") -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def _import(**fields):
    return {"kind": "data.import", "param:data.import:target": "contacts", **fields}


def _kept_id(page: str) -> str:
    found = re.search(r'name="pending_upload" value="([0-9a-f-]{36})"', page)
    assert found, "the page keeps no file"
    return found.group(1)


def test_the_form_has_fields_from_the_kinds_schema_with_defaults_and_descriptions(
    browser_client,
):
    page = browser_client.get("/jobs/new/").content.decode()

    assert 'name="param:data.import:mode"' in page
    assert '<option value="upsert" selected>upsert</option>' in page
    assert 'name="param:text.stats:words_per_minute" value="230"' in page
    assert "Validate every row and report; write nothing." in page  # dry_run's description
    assert 'type="checkbox" id="param-data-import-dry_run"' in page


def test_the_import_target_is_picked_from_the_users_targets_with_their_columns(browser_client):
    page = browser_client.get("/jobs/new/").content.decode()

    assert '<option value="contacts">contacts</option>' in page
    assert 'data-columns-value="contacts"' in page
    assert "<li>email *" in page


def test_the_export_target_is_picked_from_the_users_targets_too(browser_client):
    page = browser_client.get("/jobs/new/").content.decode()

    assert '<select id="param-data-export-target"' in page
    assert 'data-columns-for="data.export"' in page


def test_the_form_says_zip_and_gzip_are_accepted(browser_client):
    page = browser_client.get("/jobs/new/").content.decode()

    assert "gzip-compressed" in page
    assert "a ZIP of files" in page


def test_the_page_hands_the_kinds_examples_to_its_script(browser_client):
    page = browser_client.get("/jobs/new/").content.decode()

    assert '<script id="job-kinds" type="application/json">' in page
    assert '"example_params": {"target": "contacts"' in page


def test_the_fields_values_become_the_jobs_params(browser_client, user):
    response = browser_client.post(
        "/jobs/new/",
        _import(**{"param:data.import:mode": "insert", "file": _upload()}),
    )

    assert response.status_code == 302
    job = Job.objects.get(owner=user)
    assert job.params["target"] == "contacts"
    assert job.params["mode"] == "insert"


def test_a_field_the_kind_refuses_is_shown_and_the_file_is_kept(browser_client, user):
    response = browser_client.post(
        "/jobs/new/", _import(**{"param:data.import:mapping": "{oops", "file": _upload()})
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "not valid JSON" in page
    kept = PendingUpload.objects.get(owner=user)
    assert _kept_id(page) == str(kept.pk)
    assert "contacts.csv" in page


def test_the_kept_file_makes_the_job_when_the_form_comes_back_without_one(
    browser_client, user, any_storage
):
    refused = browser_client.post(
        "/jobs/new/", _import(**{"param:data.import:mode": "never", "file": _upload()})
    )
    kept = _kept_id(refused.content.decode())

    response = browser_client.post("/jobs/new/", _import(pending_upload=kept))

    assert response.status_code == 302
    job = Job.objects.get(owner=user)
    assert job.input_name == "contacts.csv"
    assert job.input_file.read() == CONTACTS
    assert not PendingUpload.objects.exists()  # consumed


def test_on_s3_the_kept_file_is_copied_into_the_job_inside_the_store(
    browser_client, user, s3_storage
):
    refused = browser_client.post(
        "/jobs/new/", _import(**{"param:data.import:mode": "never", "file": _upload()})
    )
    kept = _kept_id(refused.content.decode())
    sent = s3.requests(s3_storage)

    browser_client.post("/jobs/new/", _import(pending_upload=kept))

    stored = Job.objects.get(owner=user).input_file.name
    assert ("CopyObject", stored) in sent
    assert not [
        r for r in sent if r[1] == stored and r[0].split()[0] in ("PutObject", "UploadPart")
    ]


def test_an_error_from_the_job_service_keeps_the_file_too(browser_client, user):
    response = browser_client.post(
        "/jobs/new/", {"kind": "data.import", "param:data.import:target": "", "file": _upload()}
    )

    assert '<ul class="errorlist param-error"><li>required</li></ul>' in response.content.decode()
    assert PendingUpload.objects.filter(owner=user).count() == 1


def test_a_submission_over_a_quota_keeps_the_file(browser_client, user):
    UserQuota.objects.create(user=user, upload_bytes_per_day=10)

    response = browser_client.post("/jobs/new/", _import(file=_upload()))

    assert response.status_code == 429
    kept = PendingUpload.objects.get(owner=user)
    assert _kept_id(response.content.decode()) == str(kept.pk)


def test_a_new_file_replaces_the_kept_one(browser_client, user):
    first = browser_client.post(
        "/jobs/new/", _import(**{"param:data.import:mode": "never", "file": _upload()})
    )
    again = browser_client.post(
        "/jobs/new/",
        _import(
            **{"param:data.import:mode": "never", "file": _upload(name="other.csv")},
            pending_upload=_kept_id(first.content.decode()),
        ),
    )

    assert [p.name for p in PendingUpload.objects.filter(owner=user)] == ["other.csv"]
    assert "other.csv" in again.content.decode()


def test_refused_submissions_keep_one_file_per_user_however_many_they_send(browser_client, user):
    # Each sent without the kept file's id, as a script hammering the form would.
    for n in range(3):
        browser_client.post(
            "/jobs/new/",
            _import(**{"param:data.import:mode": "never", "file": _upload(name=f"f{n}.csv")}),
        )

    assert [p.name for p in PendingUpload.objects.filter(owner=user)] == ["f2.csv"]


def test_a_made_up_kept_file_id_is_no_file_not_a_crash(browser_client):
    response = browser_client.post("/jobs/new/", _import(pending_upload="not-a-uuid"))

    assert response.status_code == 200  # the form again, not a 500
    assert not Job.objects.exists()


def test_a_parameter_the_service_refuses_is_said_once_beside_its_field(browser_client):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "text.stats",
            "param:text.stats:top_words": "-5",
            "file": _upload(b"id,text\n1,hello\n", name="docs.csv"),
        },
    )

    page = response.content.decode()
    assert page.count("Input should be greater than or equal to 0") == 1
    assert "params.top_words:" not in page  # not repeated above the form


def test_an_error_on_the_params_as_a_whole_is_said_above_the_form(browser_client):
    response = browser_client.post(
        "/jobs/new/",
        {
            "kind": "text.process",
            "params": '{"steps": ["clean", "clean"]}',
            "file": _upload(b"id,text\n1,hello\n", name="docs.csv"),
        },
    )

    assert "params: steps: each step at most once" in response.content.decode()


def test_another_users_kept_file_is_not_used(browser_client, other_user):
    theirs = PendingUpload.objects.create(
        owner=other_user, name="theirs.csv", input_format="csv", size=1, sha256="0" * 64
    )

    response = browser_client.post("/jobs/new/", _import(pending_upload=str(theirs.pk)))

    assert response.status_code == 200
    assert "needs items" in response.content.decode()
    assert not Job.objects.exists()


def test_the_purge_task_deletes_kept_files_older_than_an_hour(
    user, django_capture_on_commit_callbacks
):
    old, new = (
        PendingUpload.objects.create(
            owner=user, name=f"{n}.csv", input_format="csv", size=1, sha256="0" * 64
        )
        for n in ("old", "new")
    )
    old.file.save("old.csv", io.BytesIO(b"a\n1\n"))
    path = old.file.path
    PendingUpload.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(hours=1, minutes=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        purged = purge_pending_uploads()

    assert purged == 1
    assert list(PendingUpload.objects.all()) == [new]
    assert not Path(path).exists()


def test_the_purge_task_is_scheduled_every_ten_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["bulkyard-purge-pending-uploads"]

    assert entry["task"] == "bulkyard.web.tasks.purge_pending_uploads"
    assert entry["schedule"] == 600


def test_the_preview_gives_the_first_rows_with_their_errors(browser_client):
    response = browser_client.post("/jobs/new/preview/", _import(file=_upload()))

    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [(row["line"], row["valid"]) for row in rows] == [(2, True), (3, False)]
    assert "line 3, column 'age'" in rows[1]["errors"][0]["message"]
    assert not PendingUpload.objects.exists()


def test_the_preview_of_a_kind_without_one_is_400(browser_client):
    response = browser_client.post(
        "/jobs/new/preview/", {"kind": "text.stats", "file": _upload(b"id,text\n1,a\n", "t.csv")}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "preview_not_offered"


def test_the_preview_needs_a_login(client):
    response = client.post("/jobs/new/preview/", _import())

    assert response.status_code == 302
