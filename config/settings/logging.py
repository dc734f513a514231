"""Logging: one formatter for every process and library, JSON or for people.

Every line goes through structlog's formatter (``bulkyard.core.logs``),
Django's, Celery's and kombu's as well as Bulkyard's own, with the fields bound
where the work runs (``job_id``, ``chunk_id``, ``kind``, ``owner``,
``request_id``, ``task_id``). The web server (``config.web``) and Celery
(``config/celery.py``) apply this same configuration instead of their own.
"""

from config.env import env

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# json: one JSON object per line, for a log collector (Compose and production);
# console: aligned key=value text, for people at a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="console").lower()
if LOG_FORMAT not in ("json", "console"):
    raise ValueError(f"LOG_FORMAT must be json or console, not {LOG_FORMAT!r}")
# One line per HTTP request (bulkyard.core.access): request id, method, path,
# route, status, duration, user.
BULKYARD_ACCESS_LOG = env.bool("BULKYARD_ACCESS_LOG", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "bulkyard.core.logs.formatter",
            "json": LOG_FORMAT == "json",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # libvips reports every step of every image at INFO.
        "pyvips": {"level": "WARNING"},
        # uvicorn's own handlers give way to the root's, at uvicorn's level
        # (its few lines about starting and stopping processes stay); its access
        # log is replaced by bulkyard.access, which knows the user and the route.
        "uvicorn": {"handlers": [], "propagate": True, "level": "INFO"},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
    },
}
