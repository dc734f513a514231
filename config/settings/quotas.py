"""Per-user quotas (decision 0015): the defaults; staff override them per user
in the admin. 0, or an empty value, is unlimited."""

from config.env import env


def _limit(name: str, value: str) -> int:
    text = value.strip().replace("_", "")
    limit = int(text) if text else 0
    if limit < 0:
        raise ValueError(f"{name} must be 0 (unlimited) or more, not {limit}")
    return limit


# The defaults are far beyond what one tenant's work on one machine reaches
# (78,000 imported rows/s flat out is 6.7e9 rows a day), so that a
# single-tenant install never meets them; a shared one sets its own.
# Jobs running (or cancelling) at once: a submission beyond is refused.
BULKYARD_QUOTA_RUNNING_JOBS = _limit(
    "BULKYARD_QUOTA_RUNNING_JOBS", env.str("BULKYARD_QUOTA_RUNNING_JOBS", default="100")
)
# Jobs waiting to be planned.
BULKYARD_QUOTA_QUEUED_JOBS = _limit(
    "BULKYARD_QUOTA_QUEUED_JOBS", env.str("BULKYARD_QUOTA_QUEUED_JOBS", default="1000")
)
# Items of the jobs submitted in a UTC day.
BULKYARD_QUOTA_ITEMS_PER_DAY = _limit(
    "BULKYARD_QUOTA_ITEMS_PER_DAY",
    env.str("BULKYARD_QUOTA_ITEMS_PER_DAY", default=str(10_000_000_000)),
)
# Bytes of inputs and attachments uploaded in a UTC day (1 TiB).
BULKYARD_QUOTA_UPLOAD_BYTES_PER_DAY = _limit(
    "BULKYARD_QUOTA_UPLOAD_BYTES_PER_DAY",
    env.str("BULKYARD_QUOTA_UPLOAD_BYTES_PER_DAY", default=str(1024**4)),
)
