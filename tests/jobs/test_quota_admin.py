"""Quotas in the user admin (bulkyard/jobs/quota_admin.py, used by
bulkyard/users/admin.py): usage per user, bounded queries, overrides."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bulkyard.jobs.models import UserQuota
from tests.factories import UserFactory
from tests.support.engine import created_job, planned_job

pytestmark = pytest.mark.django_db

USERS = "/admin/auth/user/"


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_user_list_shows_each_users_usage_against_its_limit(staff, user, sent, settings):
    settings.BULKYARD_QUOTA_QUEUED_JOBS = 0
    UserQuota.objects.create(user=user, running_jobs=4)
    planned_job(user, items=1200)
    created_job(user, b'{"n": 1}\n')

    page = staff.get(f"{USERS}?q={user.username}").content.decode()

    assert "1 / 4" in page  # running jobs
    assert "1 / unlimited" in page  # queued jobs
    assert "1,200 / " in page  # items today


def test_the_user_list_costs_as_many_queries_for_many_users_as_for_one(staff, sent):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(USERS).status_code == 200
        return len(captured)

    created_job(UserFactory(), b'{"n": 1}\n')
    one = queries()
    for _ in range(5):
        owner = UserFactory()
        UserQuota.objects.create(user=owner, queued_jobs=3)
        created_job(owner, b'{"n": 1}\n')

    assert queries() == one


def test_the_list_sorts_users_by_their_usage(staff, user, other_user, sent):
    planned_job(user, items=5)
    planned_job(other_user, items=50)

    page = staff.get(f"{USERS}?o=-6").content.decode()  # items today, descending

    assert page.index(other_user.username) < page.index(user.username)


def test_a_users_page_shows_their_usage(staff, user, sent):
    created_job(user, b'{"n": 1}\n')

    page = staff.get(f"{USERS}{user.pk}/change/").content.decode()

    assert "Queued jobs" in page
    assert "UTC" in page  # when the day quotas start again


def test_staff_override_a_users_limits_from_their_page(staff, user):
    page = staff.get(f"{USERS}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name not in ("password", "groups", "user_permissions") and value is not None
    }
    data |= {
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "job_quota-TOTAL_FORMS": "1",
        "job_quota-INITIAL_FORMS": "0",
        "job_quota-MIN_NUM_FORMS": "0",
        "job_quota-MAX_NUM_FORMS": "1",
        "job_quota-0-user": str(user.pk),
        "job_quota-0-running_jobs": "3",
        "job_quota-0-items_per_day": "0",
    }

    response = staff.post(f"{USERS}{user.pk}/change/", data)

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    quota = UserQuota.objects.get(user=user)
    assert (quota.running_jobs, quota.queued_jobs, quota.items_per_day) == (3, None, 0)
