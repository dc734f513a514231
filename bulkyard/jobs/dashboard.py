"""What the staff dashboard shows (admin_dashboard.py): the engine's load and
the last hour's work, read from PostgreSQL, and the workers that answer a
ping. The chunk readers use an index range over the hour's finished chunks
(``chunk_finished``) or the pending chunks' partial index; the failures by code
read the item results of the hour's chunks through their chunk index, so their
cost grows with the hour's recorded items (kinds that record successes too)."""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from django.db.models import Count, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from bulkyard.jobs import registry
from bulkyard.jobs.models import Chunk, ChunkStatus, ItemOutcome, ItemResult
from config.celery import app as celery_app

WINDOW = timedelta(hours=1)
# The page must answer quickly, workers or not: the ping waits this long for
# answers, and a broker that does not answer at all is given up after DEADLINE.
# 1 s, as /health/: busy workers on the file-system broker answer in over 0.5 s.
PING_TIMEOUT_SECONDS = 1.0
PING_DEADLINE_SECONDS = 2.5


@dataclass(frozen=True, slots=True)
class QueueLoad:
    queue: str
    pending: int
    running: int


@dataclass(frozen=True, slots=True)
class Minute:
    at: datetime
    chunks: int
    items: int


@dataclass(frozen=True, slots=True)
class WorkersSeen:
    names: list[str]
    # Why none could be asked (the broker is away), else "".
    error: str


def queue_loads() -> list[QueueLoad]:
    """Chunks waiting and running per queue, every known queue listed."""
    # One count per status: each is a range of its own partial index
    # (chunk_pending_claim, chunk_running_lease); together they scanned the table.
    counts: dict[tuple[str, str], int] = {
        (queue, status): n
        for status in (ChunkStatus.PENDING, ChunkStatus.RUNNING)
        for queue, n in Chunk.objects.filter(status=status)
        .values("queue")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("queue", "n")
    }
    queues = {kind.queue for kind in registry.all_kinds()} | {q for q, _ in counts}
    return [
        QueueLoad(
            queue=queue,
            pending=counts.get((queue, ChunkStatus.PENDING), 0),
            running=counts.get((queue, ChunkStatus.RUNNING), 0),
        )
        for queue in sorted(queues)
    ]


def throughput_by_minute(*, now: datetime | None = None) -> list[Minute]:
    """Chunks and items finished in each minute of the last hour, oldest
    first, 60 minutes with the empty ones as zeros (a chart needs them all)."""
    end = timezone.localtime(now or timezone.now()).replace(second=0, microsecond=0)
    start = end - WINDOW + timedelta(minutes=1)
    rows = {
        row["minute"]: (row["chunks"], row["items"] or 0)
        for row in Chunk.objects.filter(finished_at__gte=start)
        .annotate(minute=TruncMinute("finished_at"))
        .values("minute")
        .annotate(chunks=Count("pk"), items=Sum("processed_items"))
        .order_by()
    }
    minutes = [start + timedelta(minutes=n) for n in range(60)]
    return [Minute(at, *rows.get(at, (0, 0))) for at in minutes]


def failures_by_code(*, now: datetime | None = None, limit: int = 20) -> list[tuple[str, int]]:
    """Items that failed in chunks finished in the last hour, by code, most
    frequent first."""
    since = (now or timezone.now()) - WINDOW
    return [
        (row["code"] or "(no code)", row["n"])
        for row in ItemResult.objects.filter(
            outcome=ItemOutcome.FAILED, chunk__finished_at__gte=since
        )
        .values("code")
        .annotate(n=Count("pk"))
        .order_by("-n", "code")[:limit]
    ]


def workers_seen(*, app: Celery = celery_app) -> WorkersSeen:
    """The Celery workers that answer a ping now.

    The broadcast runs in a daemon thread given up after
    ``PING_DEADLINE_SECONDS``: a broker that is down makes it retry its
    connection for minutes, which must hold neither the page nor the
    process's exit. While such a ping is still out no other starts, so
    reloading the page does not pile up threads.
    """
    global _ping_in_flight
    with _ping_lock:
        if _ping_in_flight is not None and _ping_in_flight.is_alive():
            return WorkersSeen([], "an earlier ping has not come back: the broker is away")
        result: list[Any] = []
        thread = threading.Thread(
            target=_ping, args=(app, result), name="dashboard-ping", daemon=True
        )
        _ping_in_flight = thread
        thread.start()
    thread.join(PING_DEADLINE_SECONDS)
    if thread.is_alive():
        return WorkersSeen([], f"the broker did not answer within {PING_DEADLINE_SECONDS} s")
    outcome = result[0] if result else RuntimeError("the ping ended without an answer")
    if isinstance(outcome, Exception):
        return WorkersSeen([], f"{type(outcome).__name__}: {outcome}")
    return WorkersSeen(sorted(name for reply in outcome for name in reply), "")


_ping_lock = threading.Lock()
_ping_in_flight: threading.Thread | None = None


def _ping(app: Celery, result: list[Any]) -> None:
    try:
        result.append(app.control.ping(timeout=PING_TIMEOUT_SECONDS) or [])
    except Exception as exc:  # reported on the page, whatever it is
        result.append(exc)
