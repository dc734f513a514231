"""Celery: broker, reliability settings, queues, the periodic sweeper and purge.

PostgreSQL is the record of truth for jobs; the broker only delivers work, so
no result backend is configured and tasks ignore their return values.
"""

from config.env import VAR_DIR, env

REDIS_URL = env.str("REDIS_URL", default="")

_broker = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
if _broker:
    CELERY_BROKER_URL = _broker
    BROKER_IS_EMBEDDED = False
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    # Embedded default: kombu's filesystem transport needs no server and works
    # across processes. One folder for in and out, plus a control folder so
    # broadcast commands (inspect, ping, Flower) work too.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "control", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    BROKER_IS_EMBEDDED = True
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }

# A chunk that runs longer than this is killed; the sweeper then re-runs it.
CELERY_TASK_TIME_LIMIT = env.int("BULKYARD_TASK_HARD_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "BULKYARD_TASK_SOFT_TIME_LIMIT", default=CELERY_TASK_TIME_LIMIT - 60
)
# CPU priority of worker processes (a nice value, 0-19; higher yields more): on a
# host that runs the web processes too, requests (status reads, submits) take a
# core ahead of the chunks, which use every core they get. Lowering it costs a
# worker nothing where nothing else wants the CPU (a dedicated worker host), and
# PostgreSQL's backends, which the chunks wait on, keep their priority; 0 turns
# it off. docs/reliability.md has the measurements.
BULKYARD_WORKER_NICE = env.int("BULKYARD_WORKER_NICE", default=10)
# Celery's Django fixup would close the database connections around every
# task; config/celery.py applies DATABASE_CONN_MAX_AGE there instead and
# closes them after any task that failed. The fixup still renews them after
# this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Prefix of every key Bulkyard writes to Redis (broker, channel layer, cache),
# so that several deployments (or test runs) can share one Redis server.
BULKYARD_REDIS_PREFIX = env.str("BULKYARD_REDIS_PREFIX", default="")
if not BROKER_IS_EMBEDDED:
    # Redis re-delivers an unacknowledged message after the visibility timeout.
    # It must outlive the hard time limit, or a long chunk would be delivered to
    # a second worker while the first is still running it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int(
            "CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT * 2 + 600
        ),
    }
    if BULKYARD_REDIS_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = BULKYARD_REDIS_PREFIX

# Acknowledge only after the task ran, and give the message back if the worker
# process died under it: a crash never loses accepted work. Combined with
# chunk leases in the database, a re-delivered chunk never does work twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=True)
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TIMEZONE = "UTC"

# Queues: control work (planning, finishing, sweeping) stays responsive while
# I/O-bound kinds (email, HTTP) and CPU-bound kinds (images) each get workers
# sized for them.
BULKYARD_QUEUE_CONTROL = "bulkyard"
BULKYARD_QUEUE_IO = "bulkyard.io"
BULKYARD_QUEUE_CPU = "bulkyard.cpu"
CELERY_TASK_DEFAULT_QUEUE = BULKYARD_QUEUE_CONTROL

# The sweeper recovers lost workers and sends the wake-ups a broker lost: a
# lost wake-up costs at most this long (decision 0009). A sweep is a handful
# of indexed queries and one look at the broker's queues.
BULKYARD_SWEEP_INTERVAL_SECONDS = env.float("BULKYARD_SWEEP_INTERVAL_SECONDS", default=10.0)
# The purge of expired jobs (decision 0018): each run deletes for at most
# BULKYARD_RETENTION_RUN_SECONDS, so a backlog drains over several runs.
BULKYARD_RETENTION_INTERVAL_SECONDS = env.float(
    "BULKYARD_RETENTION_INTERVAL_SECONDS", default=300.0
)
# The new-job form's kept uploads (bulkyard.web.models.PendingUpload): those
# older than an hour go, looked for every ten minutes (decision 0025).
BULKYARD_PENDING_UPLOAD_PURGE_SECONDS = env.float(
    "BULKYARD_PENDING_UPLOAD_PURGE_SECONDS", default=600.0
)
CELERY_BEAT_SCHEDULE = {
    "bulkyard-sweep-stalled-work": {
        "task": "bulkyard.jobs.tasks.sweep_stalled_work",
        "schedule": BULKYARD_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": BULKYARD_SWEEP_INTERVAL_SECONDS},
    },
    "bulkyard-purge-expired-jobs": {
        "task": "bulkyard.jobs.tasks.purge_expired_jobs",
        "schedule": BULKYARD_RETENTION_INTERVAL_SECONDS,
        "options": {"expires": BULKYARD_RETENTION_INTERVAL_SECONDS},
    },
    "bulkyard-purge-pending-uploads": {
        "task": "bulkyard.web.tasks.purge_pending_uploads",
        "schedule": BULKYARD_PENDING_UPLOAD_PURGE_SECONDS,
        "options": {"expires": BULKYARD_PENDING_UPLOAD_PURGE_SECONDS},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
