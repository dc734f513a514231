"""Prometheus metrics that processes count: the catalogue, and helpers that
keep their labels bounded.

Two sources feed ``/metrics`` (docs/observability.md, decision 0021):

- **Events**, counted here by the process where they happen: items and
  chunks committed, jobs created and finished, lease expiries, sweeper
  actions, email and outbound HTTP outcomes, request latency. Celery's
  prefork workers and the web server's processes each count their own;
  prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) keeps
  every process's values in files of one folder, and an endpoint adds them
  up at scrape time (``bulkyard.core.metrics_endpoint``).
- **State** (jobs and chunks waiting, expired leases, the oldest pending
  chunk): read from PostgreSQL, the record of truth, when scraped
  (``bulkyard.jobs.metrics``), so every scrape agrees with the database and
  no process has to remember anything.

Labels never carry owner ids, job ids or free text: ``kind`` and ``queue``
come from the registry, ``code`` from ``code_label`` (well-formed codes, at
most ``MAX_CODES_PER_KIND`` per kind and process, the rest ``other``), HTTP
routes from the URL patterns.
"""

from __future__ import annotations

import re
import threading

from prometheus_client import Counter, Histogram

# Every metric name starts with it, so one regex finds Bulkyard's series.
PREFIX = "bulkyard_"

# Chunks take from milliseconds (a text chunk) to minutes (a large image or
# email chunk): buckets up to the default lease renewal times ten.
CHUNK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# API requests answer in milliseconds; uploads of big files take seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Outbound HTTP: from a local service's milliseconds to the longest timeout (60 s).
OUTBOUND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

JOBS_CREATED = Counter(
    "bulkyard_jobs_created_total", "Jobs accepted (API, web form, retries).", ["kind"]
)
JOBS_FINISHED = Counter(
    "bulkyard_jobs_finished_total",
    "Jobs that reached a final status.",
    ["kind", "status"],
)
ITEMS = Counter(
    "bulkyard_items_total",
    "Items whose outcome was committed, by outcome (succeeded, failed).",
    ["kind", "outcome"],
)
ITEM_FAILURES = Counter(
    "bulkyard_item_failures_total",
    "Failed items by failure code (codes past a bound: other).",
    ["kind", "code"],
)
CHUNK_RUNS = Counter(
    "bulkyard_chunk_runs_total",
    "Chunk runs by how they ended: done, cancelled, failed, retry_scheduled, "
    "lease_lost, released (an outage).",
    ["kind", "outcome"],
)
CHUNK_DURATION = Histogram(
    "bulkyard_chunk_duration_seconds",
    "Wall time of a chunk run that committed, from claim to commit.",
    ["kind"],
    buckets=CHUNK_BUCKETS,
)
LEASE_EXPIRIES = Counter(
    "bulkyard_lease_expiries_total",
    "Leases that ran out (their worker was lost) and whose work was taken over.",
    ["work"],
)
SWEEPS = Counter(
    "bulkyard_sweeps_total",
    "Sweeper runs: completed, or skipped because a service was away.",
    ["outcome"],
)
SWEEPER_ACTIONS = Counter(
    "bulkyard_sweeper_actions_total",
    "What the sweeper did: chunks requeued, failed or cancelled, wake-ups sent.",
    ["action"],
)
EMAIL_ATTEMPTS = Counter(
    "bulkyard_email_attempts_total",
    "Attempts to hand a message to the email backend (SMTP): sent, rejected "
    "(permanent), temporary_error (4xx, dropped connection).",
    ["outcome"],
)
OUTBOUND_REQUESTS = Counter(
    "bulkyard_outbound_requests_total",
    "Outbound HTTP exchanges (each attempt and redirect hop): 2xx-5xx, timeout, "
    "connection_error, refused.",
    ["outcome"],
)
OUTBOUND_DURATION = Histogram(
    "bulkyard_outbound_request_duration_seconds",
    "Time from sending an outbound request to its answer's (capped) body.",
    buckets=OUTBOUND_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "bulkyard_http_requests_total",
    "HTTP requests served, by route pattern, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "bulkyard_http_request_duration_seconds",
    "Time to produce an HTTP response (a streamed body's transfer not included).",
    ["route", "method"],
    buckets=REQUEST_BUCKETS,
)

PROCESS_METRICS = (
    JOBS_CREATED,
    JOBS_FINISHED,
    ITEMS,
    ITEM_FAILURES,
    CHUNK_RUNS,
    CHUNK_DURATION,
    LEASE_EXPIRIES,
    SWEEPS,
    SWEEPER_ACTIONS,
    EMAIL_ATTEMPTS,
    OUTBOUND_REQUESTS,
    OUTBOUND_DURATION,
    HTTP_REQUESTS,
    HTTP_DURATION,
)

# A kind's codes are a handful (docs/kinds/); outbound calls add one per HTTP
# status met. Beyond this many per kind, in one process, codes count as
# ``other``: a kind that put data into its codes cannot flood the database of
# series Prometheus keeps.
MAX_CODES_PER_KIND = 100
OTHER = "other"
_CODE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_codes_seen: dict[str, set[str]] = {}
_codes_lock = threading.Lock()

# Methods a route label keeps; anything else is ``other``.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def code_label(kind: str, code: str) -> str:
    """``code`` as a label value: itself if it is well formed and among the
    first ``MAX_CODES_PER_KIND`` of its kind seen here, else ``other``."""
    if not _CODE.fullmatch(code):
        return OTHER
    with _codes_lock:
        seen = _codes_seen.setdefault(kind, set())
        if code in seen:
            return code
        if len(seen) >= MAX_CODES_PER_KIND:
            return OTHER
        seen.add(code)
        return code


def method_label(method: str) -> str:
    return method if method in _METHODS else OTHER


def items_committed(
    *, kind: str, succeeded: int, failed: int, failures_by_code: dict[str, int]
) -> None:
    """Count a committed chunk's items. ``failures_by_code`` may account for
    fewer than ``failed`` (items counted without a record of their own)."""
    if succeeded:
        ITEMS.labels(kind, "succeeded").inc(succeeded)
    if failed:
        ITEMS.labels(kind, "failed").inc(failed)
    for code, count in failures_by_code.items():
        ITEM_FAILURES.labels(kind, code_label(kind, code)).inc(count)


def status_class(status: int) -> str:
    """``2xx`` for 204: the outcome label of an answered outbound request."""
    return f"{status // 100}xx" if 100 <= status < 600 else OTHER
