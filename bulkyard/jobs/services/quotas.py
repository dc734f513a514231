"""Refusing a job over a quota (decision 0015; the quotas are in ``bulkyard.jobs.quotas``).

Every job is created by ``creation.job_create`` (the API, the web form,
retries from the API and the admin), which calls ``quota_check_submission``
in the transaction that inserts the job, before its files are written to
storage: the owner's row is locked first, so two submissions of one user are
checked one after the other and cannot both take the last unit of a quota.
The views call ``quota_check_early`` before they parse a request's body, to
refuse at once a user who has nothing left; it locks nothing, and the check
in the transaction is the one that counts. Resuming a paused job, which then
counts again, is checked too (``quota_check_resume``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from bulkyard.core.sizes import human_bytes
from bulkyard.jobs.kinds import CodedError
from bulkyard.jobs.models import Job
from bulkyard.jobs.quotas import QuotaState, quota_states_of

# Retry-After for the job quotas, which free when a job moves on rather than
# at a known time: planning takes seconds, a running job longer.
RETRY_AFTER_SECONDS = {"running_jobs": 30, "queued_jobs": 5}


@dataclass(frozen=True, slots=True)
class QuotaRequest:
    """What a submission would add: its items (None when only planning can
    count them) and the bytes it uploads."""

    items: int | None
    upload_bytes: int


class QuotaExceeded(CodedError):
    """The job would take its owner past a quota; nothing was stored."""

    def __init__(self, state: QuotaState, *, requested: int | None, now: datetime) -> None:
        super().__init__("quota_exceeded", _message(state, requested))
        self.quota = state.name
        self.limit = state.limit
        self.used = state.used
        self.requested = requested
        self.resets_at = state.resets_at
        if state.resets_at is not None:
            self.retry_after = max(math.ceil((state.resets_at - now).total_seconds()), 1)
        else:
            self.retry_after = RETRY_AFTER_SECONDS[state.name]

    @property
    def details(self) -> dict[str, Any]:
        return {
            "quota": self.quota,
            "limit": self.limit,
            "used": self.used,
            "requested": self.requested,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
        }


def _message(state: QuotaState, requested: int | None) -> str:
    name, limit, used = state.name, state.limit, state.used
    if name == "running_jobs":
        return (
            f"quota running_jobs: you have {used:,} job(s) running, the limit is {limit:,}; "
            "submit again once one has finished"
        )
    if name == "queued_jobs":
        return (
            f"quota queued_jobs: you have {used:,} job(s) queued, the limit is {limit:,}; "
            "submit again once one has started"
        )

    def amount(count: int | None) -> str:
        return f"{count:,} items" if name == "items_per_day" else human_bytes(count or 0)

    if requested is None:
        what = f"today's {amount(used)} reached the limit of {amount(limit)}"
    else:
        what = (
            f"this job's {amount(requested)} would bring today's {amount(used)} past the "
            f"limit of {amount(limit)}"
        )
    return f"quota {name}: {what}; the count starts again at 00:00 UTC"


def _first_exceeded(
    states: list[QuotaState], request: QuotaRequest, *, now: datetime
) -> QuotaExceeded | None:
    for state in states:
        if state.limit is None:
            continue
        requested: int | None
        if state.name in ("running_jobs", "queued_jobs"):
            # A job is refused while the user is at the limit: the new one
            # would make one more queued, and soon one more running.
            requested, over = None, state.used >= state.limit
        elif state.name == "items_per_day":
            requested = request.items
            # Items only planning can count are let in while some remain
            # today: the last job of a day may take the count past the limit.
            if requested is None:
                over = state.used >= state.limit
            else:
                over = state.used + requested > state.limit
        else:
            requested = request.upload_bytes
            over = state.used + requested > state.limit
        if over:
            return QuotaExceeded(state, requested=requested, now=now)
    return None


def _check(owner: User, request: QuotaRequest) -> None:
    now = timezone.now()
    exceeded = _first_exceeded(quota_states_of(user_id=owner.pk, now=now), request, now=now)
    if exceeded is not None:
        raise exceeded


def quota_check_early(*, owner: User, idempotency_key: str | None = None) -> None:
    """Raise ``QuotaExceeded`` when ``owner`` may submit no job at all now (a
    job quota at its limit, no item left today), before the request is read.

    Nothing is refused for a request that repeats an ``Idempotency-Key``
    already used: it creates nothing, and ``job_create`` answers it.
    """
    replay = Job.objects.filter(owner=owner, idempotency_key=idempotency_key)
    if idempotency_key and replay.exists():
        return
    _check(owner, QuotaRequest(items=None, upload_bytes=0))


def _lock(owner_id: int) -> None:
    # FOR NO KEY UPDATE: it excludes the same lock, not the key-share lock
    # that inserting a row referring to the user (the job) takes. The usage
    # is read by the next statement: under READ COMMITTED a statement that
    # waited for the lock still reads what was committed when it began, so
    # reading usage in the locking statement would miss the job that held it.
    User.objects.select_for_update(no_key=True).filter(pk=owner_id).values_list("pk").get()


def quota_check_submission(*, owner: User, request: QuotaRequest) -> None:
    """Lock ``owner`` and raise ``QuotaExceeded`` if ``request`` would take
    them past a quota: two queries. Call it inside the transaction that inserts
    the job: the lock holds until it commits, so that the next submission of
    the same user waits for it and counts it."""
    _lock(owner.pk)
    _check(owner, request)


def quota_check_resume(*, owner_id: int, planned: bool) -> None:
    """Lock the owner and raise ``QuotaExceeded`` if resuming one of their
    paused jobs would pass a job quota: ``running_jobs`` for a job that was
    planned (it runs again), ``queued_jobs`` for one that was not. Call it in
    the transaction that resumes the job. A paused job counts against neither,
    so without this check pausing would be a way around both."""
    _lock(owner_id)
    now = timezone.now()
    name = "running_jobs" if planned else "queued_jobs"
    state = next(s for s in quota_states_of(user_id=owner_id, now=now) if s.name == name)
    if state.limit is not None and state.used >= state.limit:
        raise QuotaExceeded(state, requested=None, now=now)
