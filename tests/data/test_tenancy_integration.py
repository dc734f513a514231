"""Users are tenants of the targets: over real HTTP, with a real worker, user B
can neither read, overwrite nor email user A's contacts, and a user without
the permissions can do nothing with a target."""

import csv
import io
import json
import time
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token

from bulkyard.data.models import Contact
from tests.factories import UserFactory
from tests.support.jobs import may_use_contacts
from tests.support.targets import SHARED_TARGET

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FINISHED = {"succeeded", "completed_with_errors", "failed", "cancelled"}
A_CONTACTS = (
    b"email,name,age,city,amount\n"
    b"ann@corp-a.example,Ann,30,Oslo,10.00\n"
    b"bob@corp-a.example,Bob,40,Oslo,20.00\n"
)


class Tenant:
    """A user of the API over HTTP."""

    def __init__(self, base_url: str, *, contacts: bool = True) -> None:
        user: Any = UserFactory()
        if contacts:
            may_use_contacts(user)
        token = Token.objects.create(user=user).key
        self.user = user
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Token {token}"}, timeout=30
        )

    def submit(self, kind: str, params: dict[str, Any], content: bytes | None = None):
        if content is None:
            return self.client.post("/jobs/", json={"kind": kind, "params": params})
        return self.client.post(
            "/jobs/",
            data={"kind": kind, "params": json.dumps(params)},
            files={"file": ("rows.csv", content, "text/csv")},
        )

    def run(self, kind: str, params: dict[str, Any], content: bytes | None = None) -> dict:
        response = self.submit(kind, params, content)
        assert response.status_code == 202, response.text
        url = response.headers["Location"]
        deadline = time.monotonic() + 60
        while (job := self.client.get(url).json())["status"] not in FINISHED:
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        return job

    def download(self, job: dict) -> list[dict[str, str]]:
        body = self.client.get(job["links"]["output"]).raise_for_status().text
        return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def tenants(asgi_server):
    made: list[Tenant] = []

    def make(**options: Any) -> Tenant:
        made.append(Tenant(asgi_server, **options))
        return made[-1]

    yield make
    for tenant in made:
        tenant.client.close()


@pytest.fixture
def a_imported(tenants) -> Tenant:
    a = tenants()
    assert a.run("data.import", {"target": "contacts"}, A_CONTACTS)["status"] == "succeeded"
    return a


def test_another_user_exports_none_of_a_users_contacts(a_imported, tenants):
    b = tenants()

    job = b.run(
        "data.export", {"target": "contacts", "filter": {"email__endswith": "@corp-a.example"}}
    )

    assert job["status"] == "succeeded"
    assert b.download(job) == []


def test_another_users_import_of_the_same_key_leaves_a_users_row_alone(a_imported, tenants):
    b = tenants()

    job = b.run(
        "data.import",
        {"target": "contacts"},
        b"email,name,age,city,amount\nann@corp-a.example,Mallory,99,Nowhere,0\n",
    )

    assert job["status"] == "succeeded"
    ann = Contact.objects.get(owner=a_imported.user, email="ann@corp-a.example")
    assert (ann.name, ann.age, ann.city, str(ann.amount)) == ("Ann", 30, "Oslo", "10.00")
    assert Contact.objects.get(owner=b.user).name == "Mallory"
    assert Contact.objects.count() == 3


def test_another_user_emails_none_of_a_users_contacts(a_imported, tenants, smtp):
    b = tenants()

    job = b.run(
        "email.send",
        {
            "subject": "Hello {{ name }}",
            "text": "Hi",
            "recipients": {"target": "contacts", "filter": {"city": "Oslo"}},
        },
    )

    assert job["total_items"] == 0
    assert smtp.recipient_counts() == {}
    assert b.client.get(f"/jobs/{job['id']}/results/?format=jsonl").text == ""


def test_a_user_reads_and_emails_their_own_contacts(a_imported, smtp):
    export = a_imported.run("data.export", {"target": "contacts"})
    mail = a_imported.run(
        "email.send",
        {"subject": "Hi {{ name }}", "text": "x", "recipients": {"target": "contacts"}},
    )

    assert sorted(row["email"] for row in a_imported.download(export)) == [
        "ann@corp-a.example",
        "bob@corp-a.example",
    ]
    assert mail["succeeded_items"] == 2
    assert set(smtp.recipient_counts()) == {"ann@corp-a.example", "bob@corp-a.example"}


@pytest.mark.parametrize(
    ("kind", "params", "content"),
    [
        ("data.import", {"target": "contacts"}, A_CONTACTS),
        ("data.export", {"target": "contacts"}, None),
        ("email.send", {"subject": "s", "text": "t", "recipients": {"target": "contacts"}}, None),
    ],
    ids=["import", "export", "email"],
)
def test_a_user_without_the_permissions_gets_403_before_any_job_exists(
    tenants, kind, params, content
):
    c = tenants(contacts=False)

    response = c.submit(kind, params, content)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "target_forbidden"
    assert "bulkyard_data." in response.json()["error"]["message"]
    assert c.client.get("/jobs/").json()["count"] == 0


def test_a_user_with_the_permission_exports_every_row_of_an_unscoped_target(tenants):
    Group.objects.create(name="made-by-someone-else")
    staff = tenants(contacts=False)
    staff.user.is_staff = True
    staff.user.save()
    staff.user.user_permissions.add(Permission.objects.get(codename="view_group"))

    job = staff.run("data.export", {"target": SHARED_TARGET})

    assert [row["name"] for row in staff.download(job)] == ["made-by-someone-else"]


def test_the_target_list_shows_only_what_a_user_may_do(tenants):
    reader = tenants(contacts=False)
    reader.user.user_permissions.add(Permission.objects.get(codename="view_group"))

    listed = reader.client.get("/targets/").json()

    assert [(t["name"], t["operations"], t["scoped"]) for t in listed] == [
        (SHARED_TARGET, ["export", "recipients"], False)
    ]
    assert listed[0]["fields"] == [{"name": "name", "type": "CharField", "required": True}]


def test_a_user_who_lost_the_permissions_cannot_retry_into_the_target(tenants):
    a = tenants()
    a.run("data.import", {"target": "contacts"}, A_CONTACTS)
    # Inserting the same rows again fails them as already there: a failure a
    # retry takes (rows that failed the target's checks it would not).
    job = a.run("data.import", {"target": "contacts", "mode": "insert"}, A_CONTACTS)
    assert job["failed_items"] > 0
    a.user.user_permissions.clear()

    response = a.client.post(f"/jobs/{job['id']}/retry/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "target_forbidden"
