"""data.export end to end: API request, a real worker, the merged download."""

import csv
import gzip
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from bulkyard.data.models import Contact
from bulkyard.data.samples import write_contacts
from bulkyard.jobs.models import JobStatus
from bulkyard.jobs.parts import parts_folder
from bulkyard.jobs.services import job_create
from tests.factories import ContactFactory
from tests.support.jobs import submit_file, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COLUMNS = ["email", "name", "age", "city", "amount"]


def _export(client, *, chunk_size: int = 1000, **params):
    response = client.post(
        "/api/v1/jobs/",
        {
            "kind": "data.export",
            "params": {"target": "contacts", **params},
            "chunk_size": chunk_size,
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return wait_for_job(response.json()["id"])


def _download(client, job) -> bytes:
    response = client.get(f"/api/v1/jobs/{job.pk}/output/")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def _rows_in_database() -> list[list[str]]:
    return [
        [email, name, "" if age is None else str(age), city, str(amount)]
        for email, name, age, city, amount in Contact.objects.order_by("email").values_list(
            *COLUMNS
        )
    ]


def test_an_export_round_trips_an_import(api_client, worker):
    source = io.StringIO()
    write_contacts(source, rows=2_500, seed=5)
    imported = submit_file(
        api_client,
        source.getvalue().encode(),
        name="contacts.csv",
        kind="data.import",
        params='{"target": "contacts"}',
        chunk_size="1000",
    )
    assert wait_for_job(imported.json()["id"]).status == JobStatus.SUCCEEDED

    job = _export(api_client, chunk_size=1000)

    assert (job.status, job.chunks_total, job.succeeded_items) == (JobStatus.SUCCEEDED, 3, 2_500)
    exported = list(csv.reader(io.StringIO(_download(api_client, job).decode())))
    assert exported[0] == COLUMNS
    assert sorted(exported[1:]) == _rows_in_database()
    assert sorted(exported[1:]) == sorted(list(csv.reader(io.StringIO(source.getvalue())))[1:])
    assert job.summary["rows"] == 2_500


def test_re_importing_an_export_restores_the_same_rows(api_client, worker, user):
    ContactFactory.create_batch(30, owner=user, city="Lisbon")
    ContactFactory(owner=user, name='Zoë, "quoted"\nmulti-line', age=None)
    before = _rows_in_database()
    content = _download(api_client, _export(api_client, chunk_size=7))

    Contact.objects.all().delete()
    imported = submit_file(
        api_client, content, name="export.csv", kind="data.import", params='{"target": "contacts"}'
    )

    assert wait_for_job(imported.json()["id"]).status == JobStatus.SUCCEEDED
    assert _rows_in_database() == before


def test_a_filtered_gzip_json_lines_export_of_chosen_fields(api_client, worker, user):
    ContactFactory.create_batch(5, owner=user, city="Oslo", age=20)
    ContactFactory.create_batch(5, owner=user, city="Oslo", age=50)
    ContactFactory.create_batch(5, owner=user, city="Rome", age=50)

    job = _export(
        api_client,
        format="jsonl",
        gzip=True,
        fields=["email", "amount"],
        filter={"city": "Oslo", "age__gte": 40},
        chunk_size=2,
    )

    assert job.status == JobStatus.SUCCEEDED
    assert job.output_file.name.endswith(".jsonl.gz")
    lines = gzip.decompress(_download(api_client, job)).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["email"] for r in records) == sorted(
        Contact.objects.filter(city="Oslo", age__gte=40).values_list("email", flat=True)
    )
    assert {tuple(r) for r in records} == {("email", "amount")}
    assert {r["amount"] for r in records} == {"12.50"}


def test_formula_like_text_is_neutralised_in_the_csv(api_client, worker, user):
    ContactFactory(
        owner=user, email="f@example.com", name='=HYPERLINK("http://evil","x")', city="-Oslo"
    )

    content = _download(api_client, _export(api_client)).decode()

    assert list(csv.reader(io.StringIO(content)))[1][1:4] == [
        '\'=HYPERLINK("http://evil","x")',
        "30",
        "'-Oslo",
    ]


def test_an_export_with_no_matching_rows_gives_a_header_only_file(api_client, worker):
    job = _export(api_client, filter={"city": "Atlantis"})

    assert (job.status, job.total_items, job.summary["rows"]) == (JobStatus.SUCCEEDED, 0, 0)
    assert _download(api_client, job) == b"email,name,age,city,amount\n"


def test_a_part_left_by_a_run_that_never_committed_is_not_merged(api_client, user, worker):
    ContactFactory.create_batch(6, owner=user)
    with transaction.atomic():  # the job is planned only after this commits
        job, _ = job_create(
            owner=user,
            kind="data.export",
            params={"target": "contacts"},
            job_input=None,
            chunk_size=3,
        )
        # What a worker killed after writing its part, before its commit, leaves.
        default_storage.save(
            f"{parts_folder(str(job.pk))}/part-000000-crashed", io.BytesIO(b"stale\n")
        )
    job_id = str(job.pk)

    job = wait_for_job(job_id)

    rows = _download(api_client, job).decode().splitlines()
    assert len(rows) == 7
    assert "stale" not in rows
    wait_until(lambda: not default_storage.exists(parts_folder(job_id)), message="parts deleted")
    assert len({row.split(",")[0] for row in rows[1:]}) == 6


def test_an_unknown_filter_field_is_refused_before_the_job_exists(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "data.export", "params": {"target": "contacts", "filter": {"secret": 1}}},
        format="json",
    )

    assert response.status_code == 400
    assert "unknown field 'secret'" in response.json()["error"]["message"]


def test_an_export_takes_no_upload(api_client):
    response = submit_file(
        api_client, b"email\n", kind="data.export", params='{"target": "contacts"}'
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "input_not_accepted"


def test_an_export_cannot_be_retried_item_by_item(api_client, worker):
    job = _export(api_client)

    response = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_to_retry"
