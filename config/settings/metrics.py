"""Prometheus metrics (docs/observability.md): where processes keep their
counters, who may read them, and a worker's own port."""

from pathlib import Path

from config.env import env

# The folder every process of a host (web processes, a worker's pool) keeps
# its counters in, added up at each scrape. prometheus_client reads it from
# the environment when it is imported, so it must be set before the process
# starts: bin/run and the Compose file do; unset, each process counts alone.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    # A missing folder would fail every count (and so every request).
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# A scraper's credential: "Authorization: Bearer <token>". Unset, only staff
# and BULKYARD_METRICS_ALLOWED_NETWORKS may read /metrics.
BULKYARD_METRICS_TOKEN = env.str("BULKYARD_METRICS_TOKEN", default="")
# Client networks that may read the metrics with no credential ("10.0.0.0/8").
BULKYARD_METRICS_ALLOWED_NETWORKS = env.list("BULKYARD_METRICS_ALLOWED_NETWORKS", default=[])
# The gauges read from PostgreSQL are reused this long: several scrapers, or
# several web processes' scrapes, cost one set of queries.
BULKYARD_METRICS_CACHE_SECONDS = env.float("BULKYARD_METRICS_CACHE_SECONDS", default=5.0)
# A Celery worker serves its host's process metrics on this port (for worker
# hosts without a web server); unset, none.
BULKYARD_METRICS_PORT = env.int("BULKYARD_METRICS_PORT", default=None)
BULKYARD_METRICS_HOST = env.str("BULKYARD_METRICS_HOST", default="127.0.0.1")
