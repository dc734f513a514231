"""The job engine's record of truth: jobs, their chunks and per-item outcomes."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"
    # No new chunk (nor planning) starts until it is resumed (decision 0016).
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


JOB_FINISHED_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.COMPLETED_WITH_ERRORS,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)
# Not finished: what the user stream keeps watching. A paused job is active in
# this sense, though no work of it runs (quotas of running jobs leave it out).
JOB_ACTIVE_STATUSES = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.CANCELLING,
    JobStatus.PAUSED,
)


class JobPriority(models.TextChoices):
    """Order among one owner's jobs (decision 0014): owners still take turns,
    so a high-priority job never overtakes another user's work."""

    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


# The permission that ``high`` needs; ``normal`` and ``low`` need none.
HIGH_PRIORITY_PERMISSION = "bulkyard_jobs.use_high_priority"


class InputFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"
    # A ZIP archive: each file in it is an item (bulkyard/jobs/inputs/zipinput.py).
    ZIP = "zip", "ZIP of files"
    # JSON Lines of ``{"n": <original item number>, "item": ...}``: the input of
    # a retry job, which keeps the item numbers of the job it retries.
    RETRY = "retry", "Retry of failed items"
    # Kinds that find their own items (an export reads a query) take no upload.
    NONE = "none", "No input"


def job_input_path(job: "Job", filename: str) -> str:
    return f"jobs/{job.owner_id}/inputs/{filename}"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs"
    )
    kind = models.CharField(max_length=100, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=32, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    priority = models.CharField(
        max_length=8, choices=JobPriority.choices, default=JobPriority.NORMAL
    )

    # Empty for kinds that take no input (they plan their own chunks).
    input_file = models.FileField(upload_to=job_input_path, max_length=500, blank=True)
    input_format = models.CharField(max_length=16, choices=InputFormat.choices)
    input_name = models.CharField(max_length=255, blank=True, help_text="Name the client gave.")
    input_size = models.BigIntegerField(default=0)
    # "gzip" until planning has decompressed the input next to it.
    input_compression = models.CharField(max_length=16, blank=True)
    # Column names of a CSV input, read once at planning for every chunk.
    input_header = models.JSONField(null=True, blank=True)
    chunk_size = models.PositiveIntegerField()

    total_items = models.BigIntegerField(null=True, blank=True)
    # Items known when the job was submitted (inline items, a retry's): the
    # daily item quota counts them until planning sets total_items. None when
    # only planning can count them (an uploaded file, a kind's own work).
    submitted_items = models.BigIntegerField(null=True, blank=True)
    processed_items = models.BigIntegerField(default=0)
    succeeded_items = models.BigIntegerField(default=0)
    failed_items = models.BigIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(null=True, blank=True)
    chunks_finished = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # When the job was paused, while it is paused (decision 0016).
    paused_at = models.DateTimeField(null=True, blank=True)
    # Pauses since the job started, ended ones: left out of its duration and
    # rate (a pause while still queued is queueing time, not counted here).
    time_paused = models.DurationField(default=timedelta)
    # When a worker last took on the job-level finish step.
    finalize_started_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker running the job's own step (planning a queued
    # job, finishing one whose chunks are all done), as chunks have theirs: a
    # step whose lease ran out lost its worker and may be claimed again.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Claims of the current step; a step that keeps losing its worker fails
    # the job after BULKYARD_CHUNK_MAX_ATTEMPTS instead of looping.
    step_attempts = models.PositiveSmallIntegerField(default=0)

    # NULL, not "", when absent: the unique constraint only applies to given keys.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    summary = models.JSONField(null=True, blank=True)
    output_file = models.FileField(max_length=500, blank=True)

    # Days the job is kept once finished (the server's default unless the job
    # asked for fewer or more); NULL keeps it forever. ``expires_at`` is set
    # from it when the job finishes and stays NULL while it is active: from
    # then on the job is gone for its owner, and the purge deletes it with
    # everything it owns (decision 0018).
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days the job is kept once finished; null: forever."
    )
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the finished job is deleted with its results and files; "
        "null while it is active, or if it is kept forever.",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("use_high_priority", "Can submit jobs with high priority")]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="job_unique_idempotency_key_per_owner",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="job_owner_created"),
            # The user stream's scan of a user's active jobs.
            models.Index(fields=["owner", "status"], name="job_owner_status"),
            # The purge's scan of expired jobs: a range of this index.
            models.Index(
                fields=["expires_at"], condition=Q(expires_at__isnull=False), name="job_expires"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in JOB_FINISHED_STATUSES

    def pause_ended(self, at: datetime) -> dict[str, Any]:
        """The changes that end the job's pause at ``at``, if it is paused: a
        pause after the start adds to ``time_paused``; one while queued is
        queueing time."""
        if self.paused_at is None:
            return {}
        changes: dict[str, Any] = {"paused_at": None}
        if self.started_at is not None:
            changes["time_paused"] = self.time_paused + max(at - self.paused_at, timedelta())
        return changes


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


CHUNK_FINISHED_STATUSES = (ChunkStatus.DONE, ChunkStatus.FAILED, ChunkStatus.CANCELLED)


class Chunk(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    sequence = models.PositiveIntegerField()
    # The slice of input: bytes [byte_start, byte_end), starting on line
    # start_line, holding item_count items numbered from first_item_number.
    byte_start = models.BigIntegerField()
    byte_end = models.BigIntegerField()
    start_line = models.BigIntegerField()
    first_item_number = models.BigIntegerField()
    item_count = models.PositiveIntegerField()
    # For kinds that take no input: the kind's own description of this chunk's
    # work (e.g. a range of primary keys), set when the job is planned.
    work = models.JSONField(null=True, blank=True)
    # 1 for the chunks that read the input; 2 for those of a kind's second
    # pass over the job's results (TF-IDF needs every document counted first).
    pass_number = models.PositiveSmallIntegerField(default=1)

    status = models.CharField(
        max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    # The Celery queue whose workers claim it (its kind's, when planned).
    queue = models.CharField(max_length=100)
    # A pending chunk may be claimed from this moment: when it was planned,
    # or after the backoff of a failed attempt.
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    processed_items = models.PositiveIntegerField(default=0)
    succeeded_items = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    # Partial job-wide figures from this chunk, merged by the kind's finish step.
    summary = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    # A chunk a cancel stopped part-way: the numbers of the items it processed,
    # as [first, last] ranges of consecutive numbers. Kinds need not store a
    # result per success, nor stop at a prefix of their items (a bulk email
    # records early failures anywhere), so this is how the items it never ran
    # are known exactly (results ?outcome=unprocessed). NULL for the others:
    # a done or failed chunk processed all its items, a pending one none.
    processed_ranges = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["job", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["job", "sequence"], name="chunk_unique_sequence"),
        ]
        indexes = [
            # The sweeper's scan of expired leases.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="running"),
                name="chunk_running_lease",
            ),
            # Workers' claims: the next pending chunk of a queue.
            models.Index(
                fields=["queue", "available_at", "id"],
                condition=Q(status="pending"),
                name="chunk_pending_claim",
            ),
            # Fair claims (decision 0013): whether a job has a claimable chunk
            # on a queue, and which one.
            models.Index(
                fields=["job", "queue", "available_at", "id"],
                condition=Q(status="pending"),
                name="chunk_job_claim",
            ),
            # Fair claims: when a job's latest chunk started.
            models.Index(fields=["job", "started_at"], name="chunk_job_started"),
            # The staff dashboard's last hour (bulkyard/jobs/dashboard.py):
            # a range of finished chunks by when they finished.
            models.Index(
                fields=["finished_at"],
                condition=Q(finished_at__isnull=False),
                name="chunk_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"chunk {self.sequence} of {self.job_id} ({self.status})"


class ItemOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ItemResult(models.Model):
    """What happened to one input item.

    Failures are always stored, with the item's input so they can be retried;
    successes are stored for kinds that produce an output per item.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="item_results")
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="item_results")
    # The item's number: the line it starts on for files, its 1-based position
    # for inline items.
    item_number = models.BigIntegerField()
    outcome = models.CharField(max_length=16, choices=ItemOutcome.choices)
    code = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "item_number"], name="item_unique_number"),
        ]
        indexes = [
            models.Index(fields=["job", "outcome", "item_number"], name="item_job_outcome"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_number} of {self.job_id}: {self.outcome}"


def job_attachment_folder(job: "Job") -> str:
    """Where a job's attachments are stored: the purge deletes it whole."""
    return f"jobs/{job.owner_id}/attachments/{job.pk}/"


def job_attachment_path(attachment: "JobAttachment", filename: str) -> str:
    return f"{job_attachment_folder(attachment.job)}{filename}"


class JobAttachment(models.Model):
    """A file sent with a job besides its input, for kinds that use them (the
    attachments of a bulk email)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attachments")
    # The name the client gave, unique within the job: rows refer to it.
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=job_attachment_path, max_length=500)
    content_type = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "name"], name="job_attachment_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"


class CallbackStatus(models.TextChoices):
    # Not sent yet: the job has not ended, or its next attempt is due later.
    PENDING = "pending", "Pending"
    # An attempt is under way, under a lease.
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class CallbackDelivery(models.Model):
    """A job's completion callback and the ledger of its delivery: one signed
    POST when the job ends, tried again after retryable failures until it is
    delivered or out of attempts (decision 0017, ``services/callbacks.py``)."""

    job = models.OneToOneField(
        Job, on_delete=models.CASCADE, primary_key=True, related_name="callback"
    )
    url = models.CharField(max_length=2000)
    # "whsec_" + base64: the key every attempt is signed with. Shown nowhere
    # (API, admin, logs); retries of the job's failed items sign with it too.
    secret = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=CallbackStatus.choices, default=CallbackStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # A pending delivery may be attempted from this moment, once its job ended.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The worker sending an attempt holds the delivery under a lease; one that
    # died leaves it to be claimed again when the lease runs out.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The body, made by the first attempt: every attempt sends the same bytes.
    body = models.TextField(blank=True)

    class Meta:
        indexes = [
            # Claims and the sweeper's count: pending deliveries by due time.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="callback_pending_due",
            ),
            # Attempts whose worker died.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="callback_sending_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"callback of {self.job_id} ({self.status})"


class UserQuota(models.Model):
    """A user's own quota limits (decision 0015), set by staff in the admin.

    Each field left empty means the setting's default; 0 means unlimited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_quota"
    )
    running_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Jobs running (or cancelling) at once."
    )
    queued_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Jobs waiting to be planned."
    )
    items_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Items of the jobs submitted in a UTC day."
    )
    upload_bytes_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of inputs and attachments uploaded in a UTC day."
    )

    def __str__(self) -> str:
        return f"quotas of {self.user}"
