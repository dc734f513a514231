"""The ORM write path (used on SQLite, the embedded default), run here on the
test database: the same rules as the COPY path."""

from decimal import Decimal

import pytest

from bulkyard.data.models import Contact, ImportKey
from bulkyard.data.registry import get_target
from bulkyard.data.writers import _write_portable
from bulkyard.jobs.models import Job

pytestmark = pytest.mark.django_db

TARGET = get_target("contacts")


@pytest.fixture
def job(user):
    return Job.objects.create(owner=user, kind="data.import", input_format="csv", chunk_size=10)


def _row(email: str, name: str) -> tuple:
    return (email, name, None, "", Decimal("0"))


def test_upsert_keeps_the_highest_line_across_chunks_in_any_order(job):
    later_chunk = [(9, _row("a@x.io", "line 9"))]
    earlier_chunk = [(2, _row("a@x.io", "line 2")), (3, _row("b@x.io", "line 3"))]

    _write_portable(target=TARGET, job_id=str(job.pk), rows=later_chunk, mode="upsert")
    _write_portable(target=TARGET, job_id=str(job.pk), rows=earlier_chunk, mode="upsert")

    assert Contact.objects.get(email="a@x.io").name == "line 9"
    assert Contact.objects.get(email="b@x.io").name == "line 3"
    assert dict(ImportKey.objects.filter(job=job).values_list("key", "line")) == {
        "a@x.io": 9,
        "b@x.io": 3,
    }


def test_insert_only_reports_keys_that_already_exist(job):
    Contact.objects.create(email="a@x.io", name="existing")

    rejected = _write_portable(
        target=TARGET,
        job_id=str(job.pk),
        rows=[(2, _row("a@x.io", "new")), (3, _row("b@x.io", "new"))],
        mode="insert",
    )

    assert rejected == {2: ("already_exists", "a row with email = 'a@x.io' already exists")}
    assert Contact.objects.get(email="a@x.io").name == "existing"
    assert Contact.objects.get(email="b@x.io").name == "new"
