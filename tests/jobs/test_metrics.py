"""The engine's gauges, read from PostgreSQL at scrape time
(bulkyard/jobs/metrics.py)."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bulkyard.core.postgres.base import breaker
from bulkyard.jobs.metrics import database_collector, engine_gauges
from tests.support.engine import chunks_of, created_job, expire, planned_job
from tests.support.metrics import samples, scrape, value

pytestmark = pytest.mark.django_db

QUEUE = "bulkyard.io"


def samples_of(families) -> dict:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }


def _gauges(*, now=None) -> dict:
    return samples_of(engine_gauges(now=now or timezone.now()))


def test_jobs_not_finished_are_counted_by_kind_and_status(user):
    created_job(user, b'{"n": 1}\n')
    planned_job(user, items=25)

    gauges = _gauges()

    assert value(gauges, "bulkyard_jobs", kind="test.echo", status="queued") == 1
    assert value(gauges, "bulkyard_jobs", kind="test.echo", status="running") == 1
    assert value(gauges, "bulkyard_jobs", kind="text.stats", status="running") == 0


def test_chunks_are_counted_by_queue_and_status(user):
    job = planned_job(user, items=25)
    expire(chunks_of(job)[0], attempts=1)

    gauges = _gauges()

    assert value(gauges, "bulkyard_chunks", queue=QUEUE, status="pending") == 2
    assert value(gauges, "bulkyard_chunks", queue=QUEUE, status="running") == 1
    assert value(gauges, "bulkyard_chunks_lease_expired", queue=QUEUE) == 1


def test_the_oldest_claimable_chunk_has_waited_since_its_job_was_planned(user):
    planned_job(user, items=25)

    gauges = _gauges(now=timezone.now() + timedelta(seconds=60))

    assert 59 <= value(gauges, "bulkyard_oldest_pending_chunk_age_seconds", queue=QUEUE) <= 61
    assert value(gauges, "bulkyard_oldest_pending_chunk_age_seconds", queue="bulkyard.cpu") == 0


def test_the_oldest_queued_job_has_waited_since_it_was_accepted(user):
    created_job(user, b'{"n": 1}\n')

    gauges = _gauges(now=timezone.now() + timedelta(seconds=30))

    assert 29 <= value(gauges, "bulkyard_oldest_queued_job_age_seconds") <= 31


def test_a_scrape_reuses_the_gauges_it_read_a_moment_ago(user, settings):
    settings.BULKYARD_METRICS_CACHE_SECONDS = 60
    database_collector.forget()
    list(database_collector.collect())
    created_job(user, b'{"n": 1}\n')

    cached = samples_of(database_collector.collect())
    database_collector.forget()
    fresh = samples_of(database_collector.collect())

    assert value(cached, "bulkyard_jobs", kind="test.echo", status="queued") == 0
    assert value(fresh, "bulkyard_jobs", kind="test.echo", status="queued") == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_database_a_scrape_still_answers_with_the_process_counters(
    anon_client, settings, monkeypatch
):
    settings.BULKYARD_METRICS_TOKEN = "scrape-token-0123456789"
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
    database_collector.forget()
    connection.close()
    # PostgreSQL unreachable as the backend's breaker reports it after a
    # failed connect: new connections fail at once.
    monkeypatch.setattr(breaker, "_open_until", time.monotonic() + 60)

    response = anon_client.get("/metrics")

    assert response.status_code == 200
    found = samples(response.content.decode())
    assert value(found, "bulkyard_metrics_database_up") == 0
    assert not any(name == "bulkyard_jobs" for name, _ in found)
    monkeypatch.undo()
    database_collector.forget()
    assert value(scrape(anon_client), "bulkyard_metrics_database_up") == 1
