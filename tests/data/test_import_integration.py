"""data.import end to end: API upload, a real worker, PostgreSQL COPY + upsert."""

import gzip
import io
import json
from decimal import Decimal

import pytest

from bulkyard.data.models import Contact, ImportKey
from bulkyard.data.samples import write_contacts
from bulkyard.jobs.models import ItemResult, JobStatus
from tests.support.jobs import submit_file, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _import(client, content: bytes, *, name: str = "contacts.csv", chunk_size: int = 3, **params):
    response = submit_file(
        client,
        content,
        name=name,
        kind="data.import",
        params=json.dumps({"target": "contacts", **params}),
        chunk_size=str(chunk_size),
    )
    assert response.status_code == 202, response.content
    return wait_for_job(response.json()["id"])


def _failures(job):
    return {
        r.item_number: (r.code, r.message)
        for r in ItemResult.objects.filter(job=job, outcome="failed")
    }


CSV = (
    b"email,name,age,city,amount\n"
    b"ada@example.com,Ada,36,London,10.50\n"
    b"alan@example.com,Alan,41,Wilmslow,0\n"
    b"grace@example.com,Grace,,New York,99.99\n"
)


def test_upsert_inserts_new_keys_and_updates_existing_ones(api_client, user, worker):
    Contact.objects.create(owner=user, email="ada@example.com", name="Old Ada", age=1)

    job = _import(api_client, CSV)

    assert (job.status, job.succeeded_items, job.failed_items) == (JobStatus.SUCCEEDED, 3, 0)
    assert Contact.objects.count() == 3
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.name, ada.age, ada.amount) == ("Ada", 36, Decimal("10.50"))
    assert Contact.objects.get(email="grace@example.com").age is None
    assert job.summary["distinct_keys"] == 3
    # The ledger is cleared by the kind's cleanup once the job has finished.
    wait_until(lambda: not ImportKey.objects.filter(job=job).exists(), message="ledger cleared")


def test_insert_only_leaves_existing_rows_and_reports_them(api_client, user, worker):
    Contact.objects.create(owner=user, email="alan@example.com", name="Keep me")

    job = _import(api_client, CSV, mode="insert")

    assert (job.succeeded_items, job.failed_items) == (2, 1)
    assert Contact.objects.get(email="alan@example.com").name == "Keep me"
    assert _failures(job) == {
        3: ("already_exists", "a row with email = 'alan@example.com' already exists")
    }


def test_dry_run_reports_errors_and_writes_nothing(api_client, worker):
    content = CSV + b"bad-email,Bad,20,Oslo,1\n" + b"eve@example.com,Eve,-4,Rome,1\n"

    job = _import(api_client, content, dry_run=True)

    assert Contact.objects.count() == 0
    assert (job.succeeded_items, job.failed_items) == (3, 2)
    assert _failures(job) == {
        5: ("invalid_value", "line 5, column 'email': 'bad-email' is not an email address"),
        6: ("invalid_value", "line 6, column 'age': -4 is out of range (0 to 32767)"),
    }
    assert job.summary["dry_run"] is True


def test_invalid_rows_fail_alone_with_line_column_and_reason(api_client, worker):
    content = CSV + b"x@example.com,,30,Oslo,1\n" + b"y@example.com,Y,30,Oslo,a lot\n"

    job = _import(api_client, content)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert Contact.objects.count() == 3
    assert _failures(job) == {
        5: ("missing_value", "line 5, column 'name': a value is required"),
        6: ("invalid_value", "line 6, column 'amount': 'a lot' is not a number"),
    }


def test_rows_that_failed_the_targets_checks_are_not_retried(api_client, worker):
    # They would fail the same way again: a retry is refused, not a loop.
    content = CSV + b"x@example.com,,30,Oslo,1\n" + b"y@example.com,Y,30,Oslo,a lot\n"
    job = _import(api_client, content)

    response = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_to_retry"


def test_an_amount_beyond_the_decimal_range_fails_its_row_not_its_chunk(api_client, worker):
    content = CSV + b"huge@example.com,Huge,30,Oslo,1e999999999\n"

    job = _import(api_client, content, chunk_size=4)

    assert (job.status, job.succeeded_items) == (JobStatus.COMPLETED_WITH_ERRORS, 3)
    assert _failures(job) == {
        5: ("invalid_value", "line 5, column 'amount': '1e999999999' has more than 12 digits")
    }
    assert not job.chunks.exclude(status="done").exists()


def test_a_key_repeated_in_the_file_keeps_the_last_row_whatever_the_chunk_order(api_client, worker):
    rows = [b"email,name"] + [f"u{n}@example.com,first {n}".encode() for n in range(10)]
    rows += [b"u1@example.com,second 1", b"u7@example.com,second 7", b"u1@example.com,third 1"]

    job = _import(api_client, b"\n".join(rows) + b"\n", chunk_size=2)

    assert job.status == JobStatus.SUCCEEDED
    assert Contact.objects.count() == 10
    assert Contact.objects.get(email="u1@example.com").name == "third 1"
    assert Contact.objects.get(email="u7@example.com").name == "second 7"
    assert (job.summary["distinct_keys"], job.summary["superseded_rows"]) == (10, 3)


def test_columns_that_match_no_field_are_refused_before_any_write(api_client):
    response = submit_file(
        api_client,
        b"e-mail,full name\nada@example.com,Ada\n",
        kind="data.import",
        params='{"target": "contacts"}',
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_columns"


def test_a_mapping_renames_columns(api_client, worker):
    content = b"E-mail,Full name\nada@example.com,Ada\n"

    job = _import(api_client, content, mapping={"E-mail": "email", "Full name": "name"})

    assert job.succeeded_items == 1
    assert Contact.objects.get().name == "Ada"


def test_a_missing_required_column_is_refused(api_client):
    response = submit_file(
        api_client, b"email\nada@example.com\n", kind="data.import", params='{"target": "contacts"}'
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_columns"


def test_an_unknown_target_is_refused(api_client):
    response = submit_file(api_client, CSV, kind="data.import", params='{"target": "nope"}')

    assert response.status_code == 400
    assert "unknown target 'nope'" in response.json()["error"]["message"]


def test_a_gzip_jsonl_import(api_client, worker):
    lines = [
        {"email": "a@example.com", "name": "A", "age": 30, "amount": 1.5},
        {"email": "b@example.com", "name": "B", "unexpected": 1},
        {"email": "c@example.com", "name": "C"},
    ]
    content = gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines))

    job = _import(api_client, content, name="contacts.jsonl.gz")

    assert (job.succeeded_items, job.failed_items) == (2, 1)
    assert _failures(job) == {2: ("unknown_fields", "line 2: unknown field(s) unexpected")}
    assert Contact.objects.get(email="a@example.com").amount == Decimal("1.50")


def test_a_generated_file_over_several_chunks_imports_every_row_once(api_client, worker):
    out = io.StringIO()
    write_contacts(out, rows=2_500, invalid_every=100)

    job = _import(api_client, out.getvalue().encode(), chunk_size=1_000)

    assert job.chunks_total == 3
    assert (job.succeeded_items, job.failed_items) == (2_475, 25)
    assert Contact.objects.count() == 2_475


def test_a_worker_killed_mid_import_ends_with_the_exact_row_count(api_client, worker):
    from bulkyard.jobs.models import Chunk

    out = io.StringIO()
    write_contacts(out, rows=150_000, seed=3)
    response = submit_file(
        api_client,
        out.getvalue().encode(),
        name="contacts.csv",
        kind="data.import",
        params='{"target": "contacts"}',
        chunk_size="50000",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    wait_until(
        lambda: Chunk.objects.filter(job_id=job_id, status="running").exists(),
        timeout=60,
        message="a chunk running",
    )

    worker.kill_hard()
    worker.start()

    job = wait_for_job(job_id, timeout=120)
    assert (job.status, job.succeeded_items, job.failed_items) == (JobStatus.SUCCEEDED, 150_000, 0)
    assert Contact.objects.count() == 150_000
    assert max(Chunk.objects.filter(job=job).values_list("attempts", flat=True)) >= 2
