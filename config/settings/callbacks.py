"""Completion callbacks: how hard a job's callback is tried, and the base of
the links its payload carries (decision 0017). The outbound rules
(``BULKYARD_HTTP_*``: allowed destinations, per-host limits) apply as well."""

from config.env import env

# Attempts of a callback in all; retries follow 5xx, 408, 425, 429, timeouts
# and connection errors, with exponential backoff and full jitter (base, cap).
# The defaults spread 12 attempts over about 2.5 hours (5 at most).
BULKYARD_CALLBACK_MAX_ATTEMPTS = env.int("BULKYARD_CALLBACK_MAX_ATTEMPTS", default=12)
BULKYARD_CALLBACK_RETRY_BASE_SECONDS = env.float(
    "BULKYARD_CALLBACK_RETRY_BASE_SECONDS", default=30.0
)
BULKYARD_CALLBACK_RETRY_MAX_SECONDS = env.float(
    "BULKYARD_CALLBACK_RETRY_MAX_SECONDS", default=3600.0
)
# Seconds one attempt may take, connecting included (at most the outbound
# limits, BULKYARD_HTTP_TOTAL_TIMEOUT and BULKYARD_HTTP_CONNECT_TIMEOUT).
BULKYARD_CALLBACK_TIMEOUT = env.float("BULKYARD_CALLBACK_TIMEOUT", default=15.0)
# The service's public address ("https://bulkyard.example.com"): links in a
# callback's payload are absolute with it, relative to it without.
BULKYARD_PUBLIC_URL = env.str("BULKYARD_PUBLIC_URL", default="").rstrip("/")
