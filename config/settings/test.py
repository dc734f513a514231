"""Settings for the test suite: the real local PostgreSQL and Redis, and short
timings so recovery paths (leases, sweeper) run in seconds. Values still come
from the environment; these are only defaults."""

import hashlib
import os
import secrets
import tempfile
from pathlib import Path

# Runs from different checkouts on one machine must not share a database or
# Redis keys: both are named after the checkout.
_checkout = hashlib.sha256(str(Path(__file__).resolve().parents[2]).encode()).hexdigest()[:8]

_defaults = {
    # A key for this run alone; the processes it starts inherit it. A fixed one
    # written here would be public, as the key the settings once defaulted to was.
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bulkyard",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    # Its own Redis database: clearing the cache must never touch the broker.
    "CACHE_URL": "redis://127.0.0.1:6379/13",
    "BULKYARD_REDIS_PREFIX": f"test-{_checkout}:",
    "BULKYARD_VAR_DIR": os.path.join(tempfile.gettempdir(), f"bulkyard-test-var-{_checkout}"),
    "BULKYARD_CHUNK_LEASE_SECONDS": "3",
    "BULKYARD_CHUNK_CHECK_SECONDS": "0.2",
    "BULKYARD_SWEEP_INTERVAL_SECONDS": "1",
    "BULKYARD_WS_POLL_SECONDS": "1",
    "BULKYARD_EXTRA_KIND_MODULES": "tests.support.kinds",
    "BULKYARD_TASK_HARD_TIME_LIMIT": "120",
    "CELERY_WORKER_SEND_TASK_EVENTS": "false",
    "LOG_LEVEL": "WARNING",
    # Bulk email: a test SMTP server answers at once; retries need not wait long.
    "BULKYARD_EMAIL_RETRY_BASE_SECONDS": "0.05",
    "BULKYARD_EMAIL_RETRY_MAX_SECONDS": "0.5",
    "BULKYARD_EMAIL_RATE_PER_SECOND": "2000",
    "EMAIL_TIMEOUT": "10",
    # Outbound calls: test servers answer at once; retries need not wait long.
    "BULKYARD_HTTP_RETRY_BASE_SECONDS": "0.05",
    "BULKYARD_HTTP_RETRY_MAX_SECONDS": "0.5",
    # Completion callbacks: a test receiver answers at once; retries need not wait long.
    "BULKYARD_CALLBACK_RETRY_BASE_SECONDS": "0.05",
    "BULKYARD_CALLBACK_RETRY_MAX_SECONDS": "0.5",
    # Images: a test of the size cap need not send 50 MB.
    "BULKYARD_IMAGE_MAX_FILE_BYTES": str(4 * 1024 * 1024),
}
for _name, _value in _defaults.items():
    os.environ.setdefault(_name, _value)
# Metrics (docs/observability.md): this run's processes (the tests', the
# workers' and the web servers' they start, which inherit the variable) keep
# their counters in one folder, so that a scrape in a test sees a worker's.
# Set before prometheus_client is imported, which reads it then.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"bulkyard-test-metrics-{_checkout}-{os.getpid()}"),
)

from config.settings.base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["TEST"] = {"NAME": f"test_bulkyard_{_checkout}"}  # noqa: F405
