"""The job engine's services, one module per stage of a job's life.

1. ``creation``: a request is validated, its input checked by its format's
   reader and stored, and the job accepted ``queued``; on commit, a worker of
   the control queue is woken.
2. ``planning``: that worker claims the job's plan step and cuts the input
   (or the kind's own work) into chunks; the job turns ``running`` and a
   worker of the kind's queue is woken per chunk.
3. ``chunks``: each worker claims the next pending chunk of its queue, runs
   the kind over its items and commits the outcome once (``commits``); a chunk
   that raises is tried again after a backoff, one whose worker was lost is
   taken over when its lease runs out.
4. ``finishing``: the commit that finishes the last chunk wakes a worker of
   the control queue, which claims the job's finish step: the kind's
   ``finish``, then the final status. A kind with a second pass enters this
   step twice: the first time plans the second pass's chunks, which run as in
   3, and the last of them makes the step due again (see ``finishing``).
5. ``controls``: cancel, pause or resume a job, retry its failed items as a
   new job, hand its stalled chunks to workers now. Whatever ends a job has
   its completion callback sent (``callbacks``: one signed POST, retried,
   delivered once).
6. ``maintenance``: the sweeper, run by beat, recovers chunks whose worker
   was lost, sends the wake-ups the broker lost and cancels jobs paused for
   too long; ``retention``: beat's purge deletes expired jobs with
   everything they own.

``previews``: a dry run of a request's first rows, validated as ``creation``
validates it, stored nowhere.

What they share: ``quotas`` (refusing a job that would take its owner past
a quota, when it is created), ``claims`` (taking the next chunk or job step from
PostgreSQL with ``SKIP LOCKED``), ``leases`` (holding it while it runs, renewed
by a heartbeat), ``steps`` (the control queue's worker, which runs plan or
finish and copes with lost workers and outages). Work lives in PostgreSQL;
the broker carries wake-ups only (``bulkyard.jobs.dispatch``), and consumers
are told of changes through ``bulkyard.jobs.events``. Neither imports
anything from here, and Celery's tasks (``bulkyard.jobs.tasks``) are sent by
name, so no module here needs the task module. Decisions 0001 and 0009 say
why it is built so.

The names below are what views, the admin, the web pages and commands call.
"""

from bulkyard.jobs.services.callbacks import CallbackRequest
from bulkyard.jobs.services.controls import (
    JobConflict,
    job_cancel,
    job_pause,
    job_rerun_stalled_chunks,
    job_resume,
    job_retry_failed,
    job_set_priority,
)
from bulkyard.jobs.services.creation import (
    AttachmentInput,
    IdempotencyKeyMismatch,
    InvalidJobRequest,
    JobInput,
    JobNotAllowed,
    job_create,
    job_submission_warnings,
)
from bulkyard.jobs.services.previews import (
    PREVIEW_ROWS_DEFAULT,
    PREVIEW_ROWS_MAX,
    PreviewNotOffered,
    job_preview,
)
from bulkyard.jobs.services.quotas import QuotaExceeded, quota_check_early
from bulkyard.jobs.services.retention import PurgeReport, jobs_purge, jobs_purge_preview

__all__ = [
    "PREVIEW_ROWS_DEFAULT",
    "PREVIEW_ROWS_MAX",
    "AttachmentInput",
    "CallbackRequest",
    "IdempotencyKeyMismatch",
    "InvalidJobRequest",
    "JobConflict",
    "JobInput",
    "JobNotAllowed",
    "PreviewNotOffered",
    "PurgeReport",
    "QuotaExceeded",
    "job_cancel",
    "job_create",
    "job_pause",
    "job_preview",
    "job_rerun_stalled_chunks",
    "job_resume",
    "job_retry_failed",
    "job_set_priority",
    "job_submission_warnings",
    "jobs_purge",
    "jobs_purge_preview",
    "quota_check_early",
]
