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
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
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
RUNNING_STATUSES: tuple[str, ...] = (JobStatus.RUNNING.value, JobStatus.CANCELLING.value)
QUEUED_STATUSES: tuple[str, ...] = (JobStatus.QUEUED.value,)
# A cancelled job counts only the items it processed.
CANCELLED_STATUSES: tuple[str, ...] = (JobStatus.CANCELLING.value, JobStatus.CANCELLED.value)

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
    When(status__in=CANCELLED_STATUSES, then=F("processed_items")),
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


def limits_of(overrides: dict[str, int | None]) -> dict[str, int | None]:
    """Each quota's limit given a user's override values (None where the
    override has none, or no override row at all): the override's value, else
    the default; None for unlimited."""
    limits = default_limits()
    for name, value in overrides.items():
        if value is not None:
            limits[name] = value or None
    return limits


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


def _per_owner(rows: QuerySet[Any], value: Any) -> Coalesce:
    """A subquery adding up ``value`` over the rows (jobs or attachments)
    of the user of the outer query, whose id the rows name as ``owner_key``."""
    return Coalesce(
        Subquery(
            rows.order_by().values("owner_key").annotate(total=value).values("total"),
            output_field=BigIntegerField(),
        ),
        0,
    )


def users_with_usage(users: QuerySet[User], *, now: datetime) -> QuerySet[User]:
    """``users`` with their usage of each quota as ``usage_<quota>`` and
    their override rows joined, in one query: for one user (a check, ``/me/``)
    or a whole admin page. Each subquery reads only that user's jobs, through
    the indexes by owner and status (job_owner_status) and by owner and
    creation time (job_owner_created)."""
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
    """The quotas of a user read by ``users_with_usage``, with no query."""
    override: UserQuota | None = getattr(user, "job_quota", None)
    overrides = {name: getattr(override, name) for name in QUOTAS} if override else {}
    # PostgreSQL's sum of bigints is a numeric: made an int like the counts.
    usage = {name: int(getattr(user, f"usage_{name}")) for name in QUOTAS}
    return quota_states(limits=limits_of(overrides), usage=usage, now=now)


# One user's usage and override, as users_with_usage reads them for a page of
# users, written out: a submission checks it, and building the ORM's version
# cost several times what the query itself does (decision 0015).
_USAGE_SQL = """
SELECT active.running, active.queued, today.items, today.bytes + attached.bytes,
    q.running_jobs, q.queued_jobs, q.items_per_day, q.upload_bytes_per_day
FROM (
    SELECT count(*) FILTER (WHERE status IN {running}) AS running,
        count(*) FILTER (WHERE status IN {queued}) AS queued
    FROM {job} WHERE owner_id = %(user)s AND status IN {active}
) active, (
    SELECT coalesce(sum(CASE WHEN status IN {cancelled} THEN processed_items
            ELSE coalesce(total_items, submitted_items, 0) END), 0) AS items,
        coalesce(sum(input_size) FILTER (WHERE input_format <> %(retry)s), 0) AS bytes
    FROM {job} WHERE owner_id = %(user)s AND created_at >= %(start)s
) today, (
    SELECT coalesce(sum(a.size), 0) AS bytes
    FROM {attachment} a JOIN {job} j ON j.id = a.job_id
    WHERE j.owner_id = %(user)s AND j.created_at >= %(start)s AND j.input_format <> %(retry)s
) attached
LEFT JOIN {quota} q ON q.user_id = %(user)s
"""


def _placeholders(name: str, values: tuple[str, ...], params: dict[str, Any]) -> str:
    """``(%(name_0)s, …)`` for ``values``, added to ``params``: IN lists
    that PostgreSQL and SQLite both take."""
    keys = [f"{name}_{i}" for i in range(len(values))]
    params.update(zip(keys, values, strict=True))
    return "(" + ", ".join(f"%({key})s" for key in keys) + ")"


def quota_states_of(*, user_id: int, now: datetime) -> list[QuotaState]:
    """Every quota of one user, with its limit and usage at ``now``: one
    query, on the job indexes by owner and status and by owner and creation
    time."""
    start, _ = day_window(now)
    params: dict[str, Any] = {
        "user": user_id,
        "start": connection.ops.adapt_datetimefield_value(start),
        "retry": InputFormat.RETRY.value,
    }
    sql = _USAGE_SQL.format(
        job=connection.ops.quote_name(Job._meta.db_table),
        attachment=connection.ops.quote_name(JobAttachment._meta.db_table),
        quota=connection.ops.quote_name(UserQuota._meta.db_table),
        running=_placeholders("running", RUNNING_STATUSES, params),
        queued=_placeholders("queued", QUEUED_STATUSES, params),
        active=_placeholders("active", (*RUNNING_STATUSES, *QUEUED_STATUSES), params),
        cancelled=_placeholders("cancelled", CANCELLED_STATUSES, params),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    usage = dict(zip(QUOTAS, (int(value) for value in row[:4]), strict=True))
    overrides = dict(zip(QUOTAS, row[4:], strict=True))
    return quota_states(limits=limits_of(overrides), usage=usage, now=now)


def quota_report(*, user: User, now: datetime | None = None) -> list[QuotaState]:
    """Every quota of ``user``, with its limit and usage now."""
    return quota_states_of(user_id=user.pk, now=now or timezone.now())
