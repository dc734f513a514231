"""Quotas, the read side: a user's limits, and how much of each they use.

Four quotas bound what one user may ask of the service (decision 0015):

- ``running_jobs``: their jobs ``running`` or ``cancelling`` at once;
- ``queued_jobs``: their jobs ``queued``, waiting to be planned;
- ``items_per_day``: the items of the jobs they submitted since 00:00 UTC;
- ``upload_bytes_per_day``: the bytes of inputs and attachments they uploaded
  since 00:00 UTC.

A job of any other status (finished, or paused) counts against neither job
quota. A limit is the user's own (``UserQuota``, set by staff in the admin)
or else the setting; 0 is unlimited. ``services.quotas`` refuses a job that
would pass one; ``GET /api/v1/me/`` and the user admin show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulkyard.jobs.models import InputFormat, Job, JobAttachment, JobStatus, UserQuota

# In the order a submission is checked against them.
QUOTAS = ("running_jobs", "queued_jobs", "items_per_day", "upload_bytes_per_day")
DAY_QUOTAS = ("items_per_day", "upload_bytes_per_day")
RUNNING_STATUSES = (JobStatus.RUNNING, JobStatus.CANCELLING)
QUEUED_STATUSES = (JobStatus.QUEUED,)

_SETTINGS = {
    "running_jobs": "BULKYARD_QUOTA_RUNNING_JOBS",
    "queued_jobs": "BULKYARD_QUOTA_QUEUED_JOBS",
    "items_per_day": "BULKYARD_QUOTA_ITEMS_PER_DAY",
    "upload_bytes_per_day": "BULKYARD_QUOTA_UPLOAD_BYTES_PER_DAY",
}

# A job's items as the daily quota counts them: what planning counted, or
# what was known at submission; a cancelled job only what it processed, so
# that stopping a mistaken job gives back what it did not do.
_JOB_ITEMS = Case(
    When(
        status__in=(JobStatus.CANCELLING, JobStatus.CANCELLED),
        then=F("processed_items"),
    ),
    default=Coalesce(F("total_items"), F("submitted_items"), Value(0)),
)
# Uploaded bytes leave out a retry's input and attachments: the server made them.
_UPLOADED = ~Q(input_format=InputFormat.RETRY)


@dataclass(frozen=True, slots=True)
class QuotaState:
    """One quota of one user: its limit (None: unlimited), how much is used,
    and for a day quota when the count starts again from zero."""

    name: str
    limit: int | None
    used: int
    resets_at: datetime | None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


def day_window(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar day ``now`` falls in: its first instant and the next day's."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def default_limits() -> dict[str, int | None]:
    """The settings' limits, None for unlimited."""
    return {name: getattr(settings, setting) or None for name, setting in _SETTINGS.items()}


def limits_of(override: UserQuota | None) -> dict[str, int | None]:
    """Each quota's limit given a user's override row (or none): the
    override's value where it has one, else the default; None for unlimited."""
    limits = default_limits()
    if override is not None:
        for name in QUOTAS:
            value = getattr(override, name)
            if value is not None:
                limits[name] = value or None
    return limits


def quota_limits(*, user_id: int) -> dict[str, int | None]:
    return limits_of(UserQuota.objects.filter(user_id=user_id).first())


def quota_usage(*, user_id: int, now: datetime) -> dict[str, int]:
    """How much of each quota the user uses at ``now``: two queries, on the
    job indexes by owner and status and by owner and creation time."""
    start, _ = day_window(now)
    today = Q(created_at__gte=start)
    jobs = Job.objects.filter(owner_id=user_id).filter(
        Q(status__in=(*RUNNING_STATUSES, *QUEUED_STATUSES)) | today
    )
    counted = jobs.aggregate(
        running_jobs=Count("pk", filter=Q(status__in=RUNNING_STATUSES)),
        queued_jobs=Count("pk", filter=Q(status__in=QUEUED_STATUSES)),
        items_per_day=Coalesce(Sum(_JOB_ITEMS, filter=today), 0),
        input_bytes=Coalesce(Sum("input_size", filter=today & _UPLOADED), 0),
    )
    attachments = JobAttachment.objects.filter(
        job__owner_id=user_id, job__created_at__gte=start
    ).exclude(job__input_format=InputFormat.RETRY)
    attachment_bytes = attachments.aggregate(total=Coalesce(Sum("size"), 0))["total"]
    return {
        "running_jobs": counted["running_jobs"],
        "queued_jobs": counted["queued_jobs"],
        "items_per_day": counted["items_per_day"],
        "upload_bytes_per_day": counted["input_bytes"] + attachment_bytes,
    }


def quota_states(
    *, limits: dict[str, int | None], usage: dict[str, int], now: datetime
) -> list[QuotaState]:
    _, next_day = day_window(now)
    return [
        QuotaState(
            name=name,
            limit=limits[name],
            used=usage[name],
            resets_at=next_day if name in DAY_QUOTAS else None,
        )
        for name in QUOTAS
    ]


def quota_report(*, user: User, now: datetime | None = None) -> list[QuotaState]:
    """Every quota of ``user``, with its limit and usage now."""
    now = now or timezone.now()
    return quota_states(
        limits=quota_limits(user_id=user.pk),
        usage=quota_usage(user_id=user.pk, now=now),
        now=now,
    )


def _per_owner(jobs: QuerySet[Any], value: Any) -> Coalesce:
    """A subquery adding up ``value`` over the jobs (or attachments) of each user."""
    return Coalesce(
        Subquery(
            jobs.order_by().values("owner_key").annotate(total=value).values("total"),
            output_field=IntegerField(),
        ),
        0,
    )


def users_with_usage(users: QuerySet[User], *, now: datetime) -> QuerySet[User]:
    """``users`` with their usage of each quota as ``usage_<quota>`` and
    their override rows joined: one query for a whole admin page."""
    start, _ = day_window(now)
    owned = Job.objects.filter(owner_id=OuterRef("pk")).annotate(owner_key=F("owner_id"))
    today = owned.filter(created_at__gte=start)
    attached = (
        JobAttachment.objects.filter(job__owner_id=OuterRef("pk"), job__created_at__gte=start)
        .exclude(job__input_format=InputFormat.RETRY)
        .annotate(owner_key=F("job__owner_id"))
    )
    return users.select_related("job_quota").annotate(
        usage_running_jobs=_per_owner(owned.filter(status__in=RUNNING_STATUSES), Count("pk")),
        usage_queued_jobs=_per_owner(owned.filter(status__in=QUEUED_STATUSES), Count("pk")),
        usage_items_per_day=_per_owner(today, Sum(_JOB_ITEMS)),
        usage_upload_bytes_per_day=_per_owner(today.filter(_UPLOADED), Sum("input_size"))
        + _per_owner(attached, Sum("size")),
    )


def annotated_states(user: User, *, now: datetime) -> list[QuotaState]:
    """The quotas of a user from ``users_with_usage``, with no query."""
    override = getattr(user, "job_quota", None)
    usage = {name: getattr(user, f"usage_{name}") for name in QUOTAS}
    return quota_states(limits=limits_of(override), usage=usage, now=now)
