"""Completion callbacks: one signed POST (Standard Webhooks) to the URL a job
was given, when the job reaches its final status (decision 0017).

- **Accepting one.** ``callback_checked`` applies the outbound rules to the
  URL (http or https, no credentials in it, no internal address unless
  ``BULKYARD_HTTP_ALLOWED_HOSTS`` opens it) and checks the secret's form,
  before anything is stored; ``creation.job_create`` stores the job's
  ``CallbackDelivery``, ``pending``, in the job's own transaction.
- **When the job ends.** Whatever ends a job (its finish step, a planning or
  a step that fails it, the cancel of a queued job) calls
  ``callback_job_ended``, which wakes a worker of the control queue once the
  end is committed. A delivery is due when it is pending, its job has ended
  and its ``next_attempt_at`` has come; or when it was being sent and its
  lease ran out (the worker died).
- **An attempt.** ``callback_deliver_next`` claims the next delivery due
  (``SKIP LOCKED``, under a lease, so two workers never send the same one at
  once), makes its body the first time (the job as the API shows it, in a
  Standard Webhooks envelope) and sends one signed attempt under the
  outbound rules. 2xx: delivered. A 5xx, 408, 425 or 429, a timeout or a
  connection error: tried again after a backoff, up to
  ``BULKYARD_CALLBACK_MAX_ATTEMPTS``; any other answer (a 4xx, a redirect) or
  a refused destination: failed at once, as it would fail again.
- **Nothing twice that matters.** Every attempt carries the same
  ``webhook-id`` and body, so a receiver drops a repeat: the one a worker
  that died after sending causes, when its lease runs out.
- **Retries and lost wake-ups.** The sweeper counts the deliveries due with
  the control queue's other work and wakes workers for those that have no
  wake-up waiting (``maintenance``): a retry goes out within a sweep of its
  time, without a worker holding a countdown for hours.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from bulkyard.core.backoff import backoff_seconds
from bulkyard.core.event_loops import event_loop_factory
from bulkyard.core.http.client import Attempt, Caller, RequestSpec, new_session
from bulkyard.core.http.options import CallOptions
from bulkyard.core.http.politeness import host_gate
from bulkyard.core.http.safety import InvalidURL, Refused, check_address, check_url
from bulkyard.core.outages import is_outage, when_reachable
from bulkyard.core.signing import InvalidSecret, secret_key, webhook_headers
from bulkyard.jobs import dispatch
from bulkyard.jobs.api.serializers import JobSerializer
from bulkyard.jobs.kinds import CodedError
from bulkyard.jobs.models import JOB_FINISHED_STATUSES, CallbackDelivery, CallbackStatus, Job

logger = logging.getLogger(__name__)

T = TypeVar("T")

EVENT_TYPE = "job.finished"
MAX_URL_LENGTH = 2000
# Answers that say "not now" rather than "no": asked again after a backoff,
# as is any 5xx (a receiver being deployed or overloaded).
RETRIED_STATUSES = frozenset({408, 425, 429})
# Attempts that got no answer; a refused destination is not among them.
RETRIED_CODES = frozenset({"timeout", "connection_error", "unexpected_error"})
# Bytes of an answer read: nothing of it is kept, only its status.
MAX_ANSWER_BYTES = 1024
# Names that resolve to loopback wherever they are looked up (RFC 6761).
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A callback as a client gives it: where to POST, and the signing secret."""

    url: str
    secret: str = field(repr=False)


class InvalidCallback(CodedError):
    """A callback the rules refuse; ``where`` names the field."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__("invalid_callback", f"{where}: {reason}")
        self.where = where
        self.reason = reason


def callback_checked(*, callback: CallbackRequest) -> CallbackRequest:
    """The callback, if its URL may be called and its secret can sign; raises
    ``InvalidCallback``. Host names other than ``localhost`` are checked when
    an attempt resolves them: DNS answers may change by then."""
    url = callback.url.strip()
    if not url:
        raise InvalidCallback("callback.url", "required: the http or https URL to POST to")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallback("callback.url", f"at most {MAX_URL_LENGTH} characters")
    try:
        checked = check_url(url)
        host = (checked.host or "").lower().rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            check_address(host=host, address=_LOOPBACK, port=checked.port or 0)
    except (InvalidURL, Refused) as exc:
        raise InvalidCallback("callback.url", str(exc)) from None
    try:
        secret_key(callback.secret)
    except InvalidSecret as exc:
        raise InvalidCallback("callback.secret", str(exc)) from None
    return CallbackRequest(url=url, secret=callback.secret)


def callback_of(*, job: Job) -> CallbackRequest | None:
    """The callback a job was given, for a job made from it (a retry of its
    failed items reports to the same receiver)."""
    delivery = CallbackDelivery.objects.filter(job=job).only("url", "secret").first()
    return None if delivery is None else CallbackRequest(url=delivery.url, secret=delivery.secret)


def callback_job_ended(*, job_id: str) -> None:
    """Have the job's callback sent, if it has one waiting, once the job's end
    is committed. Should the wake-up be lost, the sweeper sends another."""
    if CallbackDelivery.objects.filter(job_id=job_id, status=CallbackStatus.PENDING).exists():
        transaction.on_commit(dispatch.wake_callback_worker, robust=True)


def callbacks_due(*, now: datetime) -> QuerySet[CallbackDelivery]:
    """Deliveries a worker may attempt now: pending ones whose job has ended
    and whose time has come, and those whose sending worker was lost."""
    return CallbackDelivery.objects.filter(
        Q(
            status=CallbackStatus.PENDING,
            next_attempt_at__lte=now,
            job__status__in=JOB_FINISHED_STATUSES,
        )
        | Q(status=CallbackStatus.SENDING, lease_expires_at__lt=now)
    )


def callbacks_due_count(*, now: datetime, cap: int) -> int:
    return callbacks_due(now=now)[:cap].count()


def callback_message_id(*, job_id: str) -> str:
    """The ``webhook-id`` of a job's callback: the same for every attempt."""
    return f"msg_{uuid.UUID(str(job_id)).hex}"


def callback_payload(*, job: Job) -> dict[str, Any]:
    """What a job's callback carries: the job as ``GET /api/v1/jobs/{id}/``
    shows it (less its callback), in a Standard Webhooks envelope. Links are
    absolute under ``BULKYARD_PUBLIC_URL``, else relative."""
    data = dict(JobSerializer(job, context={"base_url": settings.BULKYARD_PUBLIC_URL}).data)
    data.pop("callback", None)
    return {"type": EVENT_TYPE, "timestamp": data["finished_at"], "data": data}


@dataclass(frozen=True, slots=True)
class _Claimed:
    job_id: str
    url: str
    secret: str = field(repr=False)
    body: str
    attempt: int
    token: uuid.UUID


def callback_deliver_next() -> str:
    """Make one attempt at the next callback due: ``delivered``, ``retrying``,
    ``failed``, ``idle`` (none due) or ``skipped`` (its lease ran out
    meanwhile and another worker took it over). Safe to run twice."""
    claimed = _claim_next()
    if claimed is None:
        return "idle"
    try:
        attempt = _send(claimed)
    except Exception as exc:
        if is_outage(exc):
            # Redis (the per-host limits) is away: not the receiver's doing,
            # so the attempt is given back uncounted; the task comes back.
            _when_reachable(claimed, lambda: _hand_back(claimed))
            raise
        logger.exception("callback of job %s: the attempt raised", claimed.job_id)
        attempt = Attempt(None, "unexpected_error", f"{type(exc).__name__}: {exc}")
    return _when_reachable(claimed, lambda: _record(claimed, attempt))


def _claim_next() -> _Claimed | None:
    while True:
        now = timezone.now()
        with transaction.atomic():
            delivery = (
                callbacks_due(now=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("job")
                .order_by("next_attempt_at")
                .first()
            )
            if delivery is None:
                return None
            if delivery.attempts < settings.BULKYARD_CALLBACK_MAX_ATTEMPTS:
                return _lease(delivery, now=now)
            # Its last attempt lost its worker: none is left.
            CallbackDelivery.objects.filter(pk=delivery.pk).update(
                status=CallbackStatus.FAILED,
                lease_token=None,
                lease_expires_at=None,
                last_error=f"attempt {delivery.attempts} lost its worker; no attempt is left",
            )


def _lease(delivery: CallbackDelivery, *, now: datetime) -> _Claimed:
    token = uuid.uuid4()
    body = delivery.body or json.dumps(
        callback_payload(job=delivery.job),
        cls=JSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        status=CallbackStatus.SENDING,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=_lease_seconds()),
        last_attempt_at=now,
        body=body,
    )
    return _Claimed(
        job_id=str(delivery.job_id),
        url=delivery.url,
        secret=delivery.secret,
        body=body,
        attempt=delivery.attempts + 1,
        token=token,
    )


def _call_options() -> CallOptions:
    timeout = min(settings.BULKYARD_CALLBACK_TIMEOUT, settings.BULKYARD_HTTP_TOTAL_TIMEOUT)
    return CallOptions.from_settings(
        connect_timeout=min(timeout, settings.BULKYARD_HTTP_CONNECT_TIMEOUT),
        read_timeout=min(timeout, settings.BULKYARD_HTTP_READ_TIMEOUT),
        total_timeout=timeout,
        max_attempts=1,
        # A redirected POST would turn into a GET, or carry the signed
        # payload to another origin: the receiver gives its final URL.
        follow_redirects=False,
        max_redirects=0,
        max_body_bytes=MAX_ANSWER_BYTES,
    )


def _lease_seconds() -> float:
    # An attempt takes at most twice its timeout (the host's turn included).
    return 2 * min(settings.BULKYARD_CALLBACK_TIMEOUT, settings.BULKYARD_HTTP_TOTAL_TIMEOUT) + 30


def _send(claimed: _Claimed) -> Attempt:
    key = secret_key(claimed.secret)
    message_id = callback_message_id(job_id=claimed.job_id)

    def signer(body: bytes) -> dict[str, str]:
        # The timestamp is the attempt's, as Standard Webhooks wants.
        return webhook_headers(key, message_id=message_id, timestamp=int(time.time()), body=body)

    spec = RequestSpec(
        number=0,
        method="POST",
        url=claimed.url,
        headers={"Content-Type": "application/json"},
        body=claimed.body.encode(),
        signer=signer,
        replay_safe=True,
    )
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(_attempt(spec, _call_options()))


async def _attempt(spec: RequestSpec, options: CallOptions) -> Attempt:
    session, gate = new_session(limit=1), host_gate()
    budget = 2 * options.total_timeout
    try:
        # The wait for the host's turn (per-host limits) counts too.
        async with asyncio.timeout(budget):
            return await Caller(session, gate, options).attempt(spec)
    except TimeoutError:
        return Attempt(None, "timeout", f"no answer within {budget:g} s, waiting included")
    finally:
        await session.close()
        await gate.close()


def _retried(attempt: Attempt) -> bool:
    if attempt.status is None:
        return attempt.code in RETRIED_CODES
    return attempt.status >= 500 or attempt.status in RETRIED_STATUSES


def _error(attempt: Attempt) -> str:
    if attempt.status is None:
        return attempt.message[:1000]
    if 300 <= attempt.status < 400:
        return f"the receiver answered {attempt.message}; redirects are not followed"
    return f"the receiver answered {attempt.message}"[:1000]


def _record(claimed: _Claimed, attempt: Attempt) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {
        "lease_token": None,
        "lease_expires_at": None,
        "last_status_code": attempt.status,
        "last_error": "" if attempt.succeeded else _error(attempt),
    }
    if attempt.succeeded:
        outcome = "delivered"
        fields.update(status=CallbackStatus.DELIVERED, delivered_at=now)
    elif _retried(attempt) and claimed.attempt < settings.BULKYARD_CALLBACK_MAX_ATTEMPTS:
        outcome = "retrying"
        cap = settings.BULKYARD_CALLBACK_RETRY_MAX_SECONDS
        delay = backoff_seconds(
            claimed.attempt, base=settings.BULKYARD_CALLBACK_RETRY_BASE_SECONDS, cap=cap
        )
        # A receiver's Retry-After is honoured, up to the longest backoff.
        delay = max(delay, min(attempt.retry_after or 0.0, cap))
        fields.update(status=CallbackStatus.PENDING, next_attempt_at=now + timedelta(seconds=delay))
    else:
        outcome = "failed"
        fields.update(status=CallbackStatus.FAILED)
    held = CallbackDelivery.objects.filter(job_id=claimed.job_id, lease_token=claimed.token)
    if not held.update(**fields):
        return "skipped"
    if outcome == "failed":
        # No URL in logs: its query may hold a receiver's token.
        logger.warning(
            "callback of job %s failed after %s attempt(s): %s",
            claimed.job_id,
            claimed.attempt,
            fields["last_error"],
        )
    return outcome


def _hand_back(claimed: _Claimed) -> None:
    CallbackDelivery.objects.filter(job_id=claimed.job_id, lease_token=claimed.token).update(
        status=CallbackStatus.PENDING,
        attempts=F("attempts") - 1,
        lease_token=None,
        lease_expires_at=None,
    )


def _when_reachable(claimed: _Claimed, action: Callable[[], T]) -> T:
    return when_reachable(action, within=_lease_seconds(), what=f"callback of job {claimed.job_id}")
