"""The engine's state as gauges, read from PostgreSQL when ``/metrics`` is
scraped (decision 0021).

The database is the record of truth and holds these numbers already: jobs
waiting or running by kind, chunks pending and running by queue, leases that
ran out, how long the oldest claimable chunk and the oldest queued job have
waited. Reading them at scrape time keeps every process free of state to
remember and every scrape consistent with what workers will claim.

Each query uses an index of the claims or the sweeper (``Chunk.Meta.indexes``,
the jobs' status index) and runs under a 2-second statement timeout. The
answer is reused for ``BULKYARD_METRICS_CACHE_SECONDS``, so several scrapers
(or a scraper behind several web processes' load balancer) cost one read per
process and period. While PostgreSQL is away the scrape still answers, with
``bulkyard_metrics_database_up 0`` instead of these gauges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from bulkyard.jobs import registry
from bulkyard.jobs.models import JOB_ACTIVE_STATUSES, Chunk, ChunkStatus, Job, JobStatus
from bulkyard.jobs.services.claims import claimable_chunks

logger = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 2000
CHUNK_STATES = (ChunkStatus.PENDING, ChunkStatus.RUNNING)


class DatabaseCollector:
    """A prometheus_client collector of the engine's gauges, cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() >= self._until:
                self._families = _read_or_down()
                self._until = time.monotonic() + settings.BULKYARD_METRICS_CACHE_SECONDS
            families = self._families
        yield from families

    def forget(self) -> None:
        """Read the database at the next scrape (the tests use it)."""
        with self._lock:
            self._until = 0.0


def _read_or_down() -> list[Metric]:
    up = GaugeMetricFamily(
        "bulkyard_metrics_database_up",
        "Whether the last read of the engine's gauges from PostgreSQL succeeded.",
    )
    try:
        families = engine_gauges(now=timezone.now())
    except Exception as exc:
        # An outage, a timeout: the process counters still answer.
        logger.warning("metrics: the engine's gauges could not be read (%s)", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [up, *families]


def engine_gauges(*, now: datetime) -> list[Metric]:
    kinds = sorted(kind.name for kind in registry.all_kinds())
    queues = sorted({kind.queue for kind in registry.all_kinds()})
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        jobs = {
            (row["kind"], row["status"]): row["n"]
            for row in Job.objects.filter(status__in=JOB_ACTIVE_STATUSES)
            .values("kind", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
        chunks = {
            (row["queue"], row["status"]): row["n"]
            for row in Chunk.objects.filter(status__in=CHUNK_STATES)
            .values("queue", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
        expired = {
            row["queue"]: row["n"]
            for row in Chunk.objects.filter(status=ChunkStatus.RUNNING, lease_expires_at__lt=now)
            .values("queue")
            .annotate(n=Count("pk"))
            .order_by()
        }
        oldest_chunk = {
            queue: claimable_chunks(queue, now=now)
            .order_by("available_at")
            .values_list("available_at", flat=True)
            .first()
            for queue in queues
        }
        oldest_job = Job.objects.filter(status=JobStatus.QUEUED).aggregate(at=Min("created_at"))[
            "at"
        ]

    jobs_family = GaugeMetricFamily(
        "bulkyard_jobs",
        "Jobs not finished yet, by kind and status (queued, running, cancelling).",
        labels=["kind", "status"],
    )
    for kind in sorted({*kinds, *(k for k, _ in jobs)}):
        for status in JOB_ACTIVE_STATUSES:
            jobs_family.add_metric([kind, str(status)], jobs.get((kind, status), 0))
    chunks_family = GaugeMetricFamily(
        "bulkyard_chunks",
        "Chunks pending (waiting for a worker or a backoff) and running, by queue.",
        labels=["queue", "status"],
    )
    expired_family = GaugeMetricFamily(
        "bulkyard_chunks_lease_expired",
        "Running chunks whose lease ran out (their worker is gone) not yet taken "
        "over by the sweeper.",
        labels=["queue"],
    )
    age_family = GaugeMetricFamily(
        "bulkyard_oldest_pending_chunk_age_seconds",
        "How long the oldest claimable chunk of a running job has waited; 0 when none waits.",
        labels=["queue"],
    )
    for queue in sorted({*queues, *(q for q, _ in chunks)}):
        for chunk_status in CHUNK_STATES:
            chunks_family.add_metric(
                [queue, str(chunk_status)], chunks.get((queue, chunk_status), 0)
            )
        expired_family.add_metric([queue], expired.get(queue, 0))
        oldest = oldest_chunk.get(queue)
        age_family.add_metric([queue], _age(oldest, now))
    queued_family = GaugeMetricFamily(
        "bulkyard_oldest_queued_job_age_seconds",
        "How long the oldest queued job (waiting to be planned) has waited; 0 when none waits.",
    )
    queued_family.add_metric([], _age(oldest_job, now))
    return [jobs_family, chunks_family, expired_family, age_family, queued_family]


def _age(since: datetime | None, now: datetime) -> float:
    return max((now - since).total_seconds(), 0.0) if since else 0.0


database_collector = DatabaseCollector()
