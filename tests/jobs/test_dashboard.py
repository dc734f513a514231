"""The staff dashboard: its readers (bulkyard/jobs/dashboard.py) on real rows,
and its page (admin_dashboard.py) with no worker running."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bulkyard.jobs import dashboard
from bulkyard.jobs.models import Chunk, ChunkStatus
from tests.factories import UserFactory
from tests.support.engine import chunks_of, planned_job, run_every_chunk

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_pending_and_running_chunks_are_counted_per_queue(user, sent):
    job = planned_job(user)  # 3 chunks on bulkyard.io
    Chunk.objects.filter(pk=chunks_of(job)[0].pk).update(status=ChunkStatus.RUNNING)

    loads = {load.queue: load for load in dashboard.queue_loads()}

    assert (loads["bulkyard.io"].pending, loads["bulkyard.io"].running) == (2, 1)


def test_every_known_queue_is_listed_even_when_idle(db):
    loads = {load.queue: load for load in dashboard.queue_loads()}

    assert loads["bulkyard.io"].pending == 0


def test_throughput_counts_the_chunks_and_items_finished_in_each_minute(user, sent):
    job = planned_job(user)  # 10, 10 and 5 items
    run_every_chunk(job)
    now = timezone.now()
    first, second, third = chunks_of(job)
    Chunk.objects.filter(pk__in=[first.pk, second.pk]).update(finished_at=now)
    Chunk.objects.filter(pk=third.pk).update(finished_at=now - timedelta(minutes=5))

    minutes = dashboard.throughput_by_minute(now=now)

    assert len(minutes) == 60
    assert (minutes[-1].chunks, minutes[-1].items) == (2, 20)
    assert (minutes[-6].chunks, minutes[-6].items) == (1, 5)
    assert sum(m.items for m in minutes) == 25


def test_chunks_finished_over_an_hour_ago_count_in_no_minute(user, sent):
    job = planned_job(user)
    run_every_chunk(job)
    Chunk.objects.filter(job=job).update(finished_at=timezone.now() - timedelta(minutes=61))

    assert sum(m.chunks for m in dashboard.throughput_by_minute()) == 0


def test_failures_of_the_last_hour_are_counted_by_code(user, sent):
    job = planned_job(user, params={"fail_items": [1, 2, 12]})
    run_every_chunk(job)
    old = chunks_of(job)[1]  # holds item 12
    Chunk.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=2))

    assert dashboard.failures_by_code() == [("requested_failure", 2)]


def test_the_dashboard_answers_at_once_when_no_worker_runs(staff, user, sent):
    started = time.monotonic()
    page = staff.get("/admin/dashboard/").content.decode()
    elapsed = time.monotonic() - started

    assert "No worker answered" in page or "Could not ask them" in page
    assert elapsed < dashboard.PING_DEADLINE_SECONDS + 1.0


def test_the_dashboard_draws_the_hour_as_one_bar_per_minute(staff, user, sent):
    job = planned_job(user)
    run_every_chunk(job)

    page = staff.get("/admin/dashboard/").content.decode()

    assert page.count('<rect class="by-chart-bar"') == 60
    assert "25 items, 3 chunks</title>" in page
    assert "last hour: 25 items in 3 chunks" in page


def test_the_dashboard_is_for_staff_only(client, user):
    client.force_login(user)

    response = client.get("/admin/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_the_dashboard(staff):
    assert 'href="/admin/dashboard/"' in staff.get("/admin/").content.decode()


def test_workers_seen_gives_up_at_its_deadline_when_the_broker_is_away(monkeypatch):
    from celery import Celery

    # The ping this test leaves retrying is forgotten afterwards, so the other
    # tests' pings run.
    monkeypatch.setattr(dashboard, "_ping_in_flight", None)

    # Nothing listens there. Not the current app: the other tests' tasks would
    # be sent to it.
    away = Celery("away", broker="amqp://guest:guest@127.0.0.1:1//", set_as_current=False)
    started = time.monotonic()

    seen = dashboard.workers_seen(app=away)

    assert seen.names == []
    assert "broker did not answer" in seen.error
    assert time.monotonic() - started < dashboard.PING_DEADLINE_SECONDS + 0.5
    # The ping still retrying, another one is not started beside it.
    assert "earlier ping" in dashboard.workers_seen(app=away).error
