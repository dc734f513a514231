"""Sending email: Django's own settings (any backend, SMTP by default) and the
bulk sender's tunables."""

from config.env import env
from config.settings.tasks import BULKYARD_REDIS_PREFIX, REDIS_URL

# Django's email settings, read from the environment. Any backend works, e.g.
# "anymail.backends.mailgun.EmailBackend" with django-anymail installed.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="bulkyard@localhost")

# Messages per second for the sending account, across every worker: the
# limit is kept in Redis (per process on the embedded default, without Redis).
BULKYARD_EMAIL_RATE_PER_SECOND = env.int("BULKYARD_EMAIL_RATE_PER_SECOND", default=100)
# The name the limit is kept under; defaults to the SMTP host and user, so
# jobs sending through the same account share one limit.
BULKYARD_EMAIL_ACCOUNT = env.str(
    "BULKYARD_EMAIL_ACCOUNT", default=f"{EMAIL_BACKEND}:{EMAIL_HOST}:{EMAIL_PORT}:{EMAIL_HOST_USER}"
)
BULKYARD_EMAIL_RATE_STORAGE_URL = env.str(
    "BULKYARD_EMAIL_RATE_STORAGE_URL", default=REDIS_URL or "memory://"
)
BULKYARD_EMAIL_RATE_KEY_PREFIX = f"{BULKYARD_REDIS_PREFIX}bulkyard-email-rate"
# A message that meets a temporary error (4xx, a dropped connection) is tried
# this many times in all, waiting exponentially longer (with jitter) between tries.
BULKYARD_EMAIL_MAX_ATTEMPTS = env.int("BULKYARD_EMAIL_MAX_ATTEMPTS", default=5)
BULKYARD_EMAIL_RETRY_BASE_SECONDS = env.float("BULKYARD_EMAIL_RETRY_BASE_SECONDS", default=2.0)
BULKYARD_EMAIL_RETRY_MAX_SECONDS = env.float("BULKYARD_EMAIL_RETRY_MAX_SECONDS", default=60.0)
# Recipients marked "sending" together; a crash leaves at most this many whose
# delivery is unknown (they are reported, never sent again automatically).
BULKYARD_EMAIL_CLAIM_BATCH = env.int("BULKYARD_EMAIL_CLAIM_BATCH", default=20)
# Bounds on each rendering of a template part (subject, text, HTML), see
# bulkyard/mail/template_limits.py: the most bytes a part (or any piece of it
# while it is built) may hold, and the most steps of work it may take (a step
# is a loop iteration, a tag, a value looked up or a filter applied, and the
# text they read or write). A recipient whose rendering meets one fails alone
# (rendered_too_large, rendering_too_costly); a template that meets one by
# itself is refused when the job is created.
BULKYARD_EMAIL_MAX_RENDERED_BYTES = env.int(
    "BULKYARD_EMAIL_MAX_RENDERED_BYTES", default=1024 * 1024
)
BULKYARD_EMAIL_MAX_RENDER_STEPS = env.int("BULKYARD_EMAIL_MAX_RENDER_STEPS", default=100_000)
