"""The dry run of a request's first rows (``services.job_preview``)."""

import pytest

from bulkyard.data.models import Contact
from bulkyard.jobs import services
from bulkyard.jobs.models import Job
from tests.support.engine import job_input
from tests.support.jobs import may_use_contacts

pytestmark = pytest.mark.django_db

CSV = b"email,name,age\nada@example.com,Ada,36\nnot an address,Bob,40\ncy@example.com,Cy,old\n"


@pytest.fixture
def importer(user):
    may_use_contacts(user)
    return user


def _preview(owner, body=CSV, **params):
    return services.job_preview(
        owner=owner,
        kind="data.import",
        params={"target": "contacts", **params},
        job_input=job_input(body, "csv"),
    )


def test_each_row_comes_with_its_line_and_the_errors_the_real_run_would_give(importer):
    preview = _preview(importer)

    assert [(row.number, row.valid) for row in preview.rows] == [(2, True), (3, False), (4, False)]
    assert [error.code for error in preview.rows[1].errors] == ["invalid_value"]
    assert preview.rows[2].errors[0].message.startswith("line 4, column 'age'")
    assert preview.rows[1].values == {"email": "not an address", "name": "Bob", "age": "40"}
    assert preview.columns == ["email", "name", "age", "city", "amount"]


def test_only_the_rows_asked_for_are_judged(importer):
    preview = services.job_preview(
        owner=importer,
        kind="data.import",
        params={"target": "contacts"},
        job_input=job_input(CSV, "csv"),
        rows=1,
    )

    assert [row.number for row in preview.rows] == [2]


@pytest.mark.parametrize("rows", [0, 101])
def test_rows_outside_1_to_100_are_refused(importer, rows):
    with pytest.raises(services.InvalidJobRequest) as caught:
        services.job_preview(
            owner=importer,
            kind="data.import",
            params={"target": "contacts"},
            job_input=job_input(CSV, "csv"),
            rows=rows,
        )

    assert caught.value.code == "invalid_rows"


def test_in_insert_mode_a_key_the_owner_has_already_fails(importer):
    Contact.objects.create(owner=importer, email="ada@example.com", name="Ada")

    preview = _preview(importer, mode="insert")

    assert [error.code for error in preview.rows[0].errors] == ["already_exists"]


def test_a_kind_without_a_preview_is_refused(user):
    with pytest.raises(services.PreviewNotOffered) as caught:
        services.job_preview(
            owner=user, kind="test.echo", params={}, job_input=job_input(b'{"a": 1}\n')
        )

    assert caught.value.code == "preview_not_offered"


def test_the_request_is_validated_as_a_submission_is(importer):
    with pytest.raises(services.InvalidJobRequest) as caught:
        _preview(importer, body=b"email,colour\na@x.org,red\n")

    assert caught.value.code == "unknown_columns"


def test_a_user_without_the_targets_permission_is_refused(other_user):
    with pytest.raises(services.JobNotAllowed):
        _preview(other_user)


def test_nothing_is_stored(importer):
    _preview(importer)

    assert not Job.objects.exists()
    assert not Contact.objects.exists()
