"""Retention: how long finished jobs are kept, and how the purge that deletes
them is bounded (decision 0018). Beat's schedule of the purge is in ``tasks``."""

from config.env import env

# Days a finished job is kept, counted from its end, before the purge deletes it
# with its results and files; a job may ask for fewer (or, up to the maximum,
# more). 0 keeps jobs forever unless they ask otherwise.
BULKYARD_RETENTION_DAYS = env.int("BULKYARD_RETENTION_DAYS", default=30)
# The most days a job may ask for (its retention_days); 0 sets no maximum.
BULKYARD_RETENTION_MAX_DAYS = env.int(
    "BULKYARD_RETENTION_MAX_DAYS", default=BULKYARD_RETENTION_DAYS
)
# Rows the purge deletes per statement (each its own transaction): a big job's
# million results go in many short deletes, never one that holds locks for minutes.
BULKYARD_RETENTION_BATCH_ROWS = env.int("BULKYARD_RETENTION_BATCH_ROWS", default=5000)
# Seconds one purge run may take; what is left waits for the next run.
BULKYARD_RETENTION_RUN_SECONDS = env.float("BULKYARD_RETENTION_RUN_SECONDS", default=30.0)

if BULKYARD_RETENTION_DAYS < 0 or BULKYARD_RETENTION_MAX_DAYS < 0:
    raise ValueError("BULKYARD_RETENTION_DAYS and BULKYARD_RETENTION_MAX_DAYS must be 0 or more")
if BULKYARD_RETENTION_MAX_DAYS and not (0 < BULKYARD_RETENTION_DAYS <= BULKYARD_RETENTION_MAX_DAYS):
    # Keeping jobs forever by default, or longer than jobs may ask for, contradicts the maximum.
    raise ValueError(
        f"BULKYARD_RETENTION_DAYS ({BULKYARD_RETENTION_DAYS}) must be between 1 and "
        f"BULKYARD_RETENTION_MAX_DAYS ({BULKYARD_RETENTION_MAX_DAYS}) when a maximum is set"
    )
if BULKYARD_RETENTION_BATCH_ROWS < 1:
    raise ValueError("BULKYARD_RETENTION_BATCH_ROWS must be at least 1")
