"""Outbound HTTP calls and webhooks: where requests may go and how hard any one
host is pushed. Job params may ask for less than these limits, never more."""

from config.env import env
from config.settings.tasks import BULKYARD_REDIS_PREFIX, REDIS_URL

# Internal destinations opened on purpose ("host", "host:port", "10.0.0.0/8",
# "[fd00::1]:8080"), comma-separated. Everything non-public is refused otherwise.
BULKYARD_HTTP_ALLOWED_HOSTS = env.list("BULKYARD_HTTP_ALLOWED_HOSTS", default=[])
# Per destination host, across every worker (kept in Redis; per process without it).
BULKYARD_HTTP_HOST_CONCURRENCY = env.int("BULKYARD_HTTP_HOST_CONCURRENCY", default=20)
BULKYARD_HTTP_HOST_RATE_PER_SECOND = env.float("BULKYARD_HTTP_HOST_RATE_PER_SECOND", default=50.0)
BULKYARD_HTTP_GATE_URL = env.str("BULKYARD_HTTP_GATE_URL", default=REDIS_URL)
BULKYARD_HTTP_GATE_KEY_PREFIX = f"{BULKYARD_REDIS_PREFIX}bulkyard-http-host:"
# Requests in flight per chunk (one event loop per running chunk).
BULKYARD_HTTP_MAX_CONCURRENCY = env.int("BULKYARD_HTTP_MAX_CONCURRENCY", default=200)
BULKYARD_HTTP_CONNECT_TIMEOUT = env.float("BULKYARD_HTTP_CONNECT_TIMEOUT", default=10.0)
BULKYARD_HTTP_READ_TIMEOUT = env.float("BULKYARD_HTTP_READ_TIMEOUT", default=30.0)
BULKYARD_HTTP_TOTAL_TIMEOUT = env.float("BULKYARD_HTTP_TOTAL_TIMEOUT", default=60.0)
# Response bodies are read up to this many bytes and kept in the results.
BULKYARD_HTTP_MAX_BODY_BYTES = env.int("BULKYARD_HTTP_MAX_BODY_BYTES", default=1_048_576)
BULKYARD_HTTP_MAX_ATTEMPTS = env.int("BULKYARD_HTTP_MAX_ATTEMPTS", default=10)
BULKYARD_HTTP_MAX_REDIRECTS = env.int("BULKYARD_HTTP_MAX_REDIRECTS", default=10)
# Longest Retry-After honoured; a server asking for more fails that request.
BULKYARD_HTTP_MAX_RETRY_AFTER = env.float("BULKYARD_HTTP_MAX_RETRY_AFTER", default=300.0)
BULKYARD_HTTP_RETRY_BASE_SECONDS = env.float("BULKYARD_HTTP_RETRY_BASE_SECONDS", default=1.0)
BULKYARD_HTTP_RETRY_MAX_SECONDS = env.float("BULKYARD_HTTP_RETRY_MAX_SECONDS", default=60.0)
BULKYARD_HTTP_USER_AGENT = env.str("BULKYARD_HTTP_USER_AGENT", default="Bulkyard/1.0")
