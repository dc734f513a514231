"""Both write paths, on the test database: COPY (PostgreSQL) and the ORM one
(SQLite, the embedded default), which must follow the same rules."""

from decimal import Decimal

import pytest
from django.db import transaction

from bulkyard.data.models import Contact, ImportKey
from bulkyard.data.writers import _write_portable, _write_postgres
from bulkyard.jobs.models import Job
from bulkyard.targets.registry import get_target

pytestmark = pytest.mark.django_db

TARGET = get_target("contacts")


@pytest.fixture(params=[_write_postgres, _write_portable], ids=["copy", "orm"])
def write(request):
    return request.param


def _job(owner) -> Job:
    return Job.objects.create(owner=owner, kind="data.import", input_format="csv", chunk_size=10)


def _row(email: str, name: str) -> tuple:
    return (email, name, None, "", Decimal("0"))


def _write(write, owner, rows, *, mode="upsert", job=None):
    """One chunk's write, in a transaction of its own as a chunk's commit is
    (the COPY path's staging table lives until the transaction ends)."""
    with transaction.atomic():
        return write(
            target=TARGET,
            job_id=str((job or _job(owner)).pk),
            rows=rows,
            mode=mode,
            scope={"owner": owner.pk},
        )


@pytest.mark.django_db(transaction=True)
def test_upsert_keeps_the_highest_line_across_chunks_in_any_order(write, user):
    job = _job(user)
    _write(write, user, [(9, _row("a@x.io", "line 9"))], job=job)
    _write(write, user, [(2, _row("a@x.io", "line 2")), (3, _row("b@x.io", "line 3"))], job=job)

    assert Contact.objects.get(email="a@x.io").name == "line 9"
    assert Contact.objects.get(email="b@x.io").name == "line 3"
    assert dict(ImportKey.objects.filter(job=job).values_list("key", "line")) == {
        "a@x.io": 9,
        "b@x.io": 3,
    }


def test_imported_rows_belong_to_the_jobs_owner(write, user):
    _write(write, user, [(2, _row("a@x.io", "mine"))])

    assert Contact.objects.get(email="a@x.io").owner_id == user.pk


def test_an_upsert_never_touches_another_owners_row_with_the_same_key(write, user, other_user):
    Contact.objects.create(owner=other_user, email="a@x.io", name="theirs")

    _write(write, user, [(2, _row("a@x.io", "mine"))])

    assert Contact.objects.get(owner=other_user).name == "theirs"
    assert Contact.objects.get(owner=user).name == "mine"


def test_insert_only_reports_keys_the_owner_already_has(write, user, other_user):
    Contact.objects.create(owner=user, email="a@x.io", name="existing")
    Contact.objects.create(owner=other_user, email="b@x.io", name="theirs")

    rejected = _write(
        write, user, [(2, _row("a@x.io", "new")), (3, _row("b@x.io", "new"))], mode="insert"
    )

    assert rejected == {2: ("already_exists", "a row with email = 'a@x.io' already exists")}
    assert Contact.objects.get(owner=user, email="a@x.io").name == "existing"
    assert Contact.objects.get(owner=user, email="b@x.io").name == "new"
    assert Contact.objects.get(owner=other_user).name == "theirs"
