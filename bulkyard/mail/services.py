"""Sending one chunk of a bulk email: the send-once ledger and the SMTP session.

Never twice, and how: every recipient has one ledger row per job (unique on
job + recipient), created ``pending`` with its Message-ID, and follows the
send-once protocol (``bulkyard.jobs.ledger``). Before a batch is handed to
the mail server its rows go ``pending -> sending`` in a committed update;
after the server answered, ``done`` (sent, or failed with the SMTP code) is
committed. A chunk that runs again (a crash, a duplicated message) reports
``done`` rows as they were, and it never sends a ``sending`` row: a crash
between the server's acceptance and the commit leaves at most one batch whose
delivery is unknown, reported as ``delivery_unknown`` with the Message-ID that
lets you look it up.

These writes commit on their own, outside the chunk's transaction: what was
sent must stay recorded even if the chunk's commit never happens.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import BadHeaderError, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from bulkyard.core import metrics
from bulkyard.core.backoff import backoff_seconds
from bulkyard.jobs.sdk import AttachedFile, LedgerStatus
from bulkyard.mail.mime import BulkEmailMessage, LetterForm, MessageBuilder, MessageParts
from bulkyard.mail.models import EmailDelivery
from bulkyard.mail.rate import SendRate, account_rate
from bulkyard.mail.template_limits import RenderLimitExceeded
from bulkyard.mail.templates import EmailTemplates

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recipient:
    number: int  # the input line (item number)
    address: str  # checked and normalised
    variables: dict[str, Any]
    # Names of the job's attachments this recipient gets; None: all of them.
    attachments: tuple[str, ...] | None = None


@dataclass(slots=True)
class Outcome:
    number: int
    address: str
    sent: bool
    message_id: str = ""
    smtp_code: int | None = None
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class Letter:
    """What every message of a job shares."""

    templates: EmailTemplates
    from_email: str
    reply_to: tuple[str, ...] = ()
    attachments: dict[str, AttachedFile] = field(default_factory=dict)


@dataclass(slots=True)
class _Attempt:
    permanent: bool
    smtp_code: int | None
    reason: str


@dataclass(slots=True)
class ChunkSender:
    """Sends one chunk's recipients over one connection of the configured backend."""

    job_id: str
    letter: Letter
    should_stop: Callable[[], bool]
    rate: SendRate = field(default_factory=account_rate)
    connection: BaseEmailBackend | None = None
    builder: MessageBuilder = field(init=False)

    def __post_init__(self) -> None:
        letter = self.letter
        self.builder = MessageBuilder(
            LetterForm(
                from_email=letter.from_email,
                reply_to=letter.reply_to,
                has_html=letter.templates.html is not None,
            )
        )

    def send(self, recipients: Sequence[Recipient]) -> list[Outcome]:
        """Outcomes of the recipients this run finished or found finished; the
        ones left when the job is cancelled are not in the list."""
        rows = _deliveries_claim(
            job_id=self.job_id, recipients=recipients, from_email=self.letter.from_email
        )
        outcomes: list[Outcome] = []
        to_send: list[tuple[Recipient, EmailDelivery]] = []
        for recipient in recipients:
            row = rows[_key(recipient.address)]
            known = _known_outcome(recipient, row)
            if known is not None:
                outcomes.append(known)
            else:
                to_send.append((recipient, row))
        if not to_send:
            return outcomes
        batch_size = settings.BULKYARD_EMAIL_CLAIM_BATCH
        try:
            for start in range(0, len(to_send), batch_size):
                batch_outcomes, stopped = self._send_batch(to_send[start : start + batch_size])
                outcomes.extend(batch_outcomes)
                if stopped:
                    break
        finally:
            self._disconnect()
        return outcomes

    def _send_batch(
        self, batch: list[tuple[Recipient, EmailDelivery]]
    ) -> tuple[list[Outcome], bool]:
        """The outcomes of one batch, and whether the job is being cancelled."""
        claim = uuid.uuid4()
        rows = EmailDelivery.objects.filter(pk__in=[row.pk for _, row in batch])
        # Only rows this run moved to "sending" are its to send.
        owned = set(rows.claim(claim).values_list("pk", flat=True))
        outcomes: list[Outcome] = []
        unsent: list[int] = []
        started: set[str] = set()
        try:
            for recipient, row in batch:
                if row.pk not in owned:
                    outcomes.append(_unknown(recipient, row))
                    continue
                if self.should_stop():
                    unsent.append(row.pk)
                    continue
                started.add(recipient.address)
                outcomes.append(self._deliver(recipient, row.message_id))
        except BaseException:
            # Never started: back to pending, so that a later run sends them.
            # One interrupted while being handed over stays "sending" (unknown).
            unsent += [row.pk for r, row in batch if row.pk in owned and r.address not in started]
            raise
        finally:
            _outcomes_record(outcomes, job_id=self.job_id, claim=claim)
            if unsent:
                EmailDelivery.objects.filter(pk__in=unsent).release(claim)
        return outcomes, bool(unsent)

    def _deliver(self, recipient: Recipient, message_id: str) -> Outcome:
        try:
            message = self._message(recipient, message_id)
        except RenderLimitExceeded as exc:
            # The same row renders the same way every time: not worth a retry.
            return Outcome(
                number=recipient.number,
                address=recipient.address,
                sent=False,
                message_id=message_id,
                code=exc.code,
                message=f"the message for {recipient.address} was not sent: {exc}",
            )
        except Exception as exc:  # a template filter that raised, say
            return _unbuildable(recipient, message_id, exc)
        # At least one try, whatever the setting says.
        max_attempts = max(1, settings.BULKYARD_EMAIL_MAX_ATTEMPTS)
        for attempt in range(1, max_attempts + 1):
            self.rate.acquire()
            try:
                connection = self._connect()
                if connection.send_messages([message]) == 1:
                    metrics.EMAIL_ATTEMPTS.labels("sent").inc()
                    return Outcome(
                        number=recipient.number,
                        address=recipient.address,
                        sent=True,
                        message_id=message_id,
                    )
                failure = _Attempt(False, None, "the backend reported no message sent")
            except BadHeaderError as exc:
                # Raised while the message is built, before any SMTP command:
                # a line break in a header (a variable that forges one).
                return _unbuildable(recipient, message_id, exc)
            except Exception as exc:
                failure = _classify(exc)
                if not failure.permanent:
                    # The session may be broken (a dropped connection, a
                    # 421): start the next try on a fresh one.
                    self._disconnect()
            metrics.EMAIL_ATTEMPTS.labels(
                "rejected" if failure.permanent else "temporary_error"
            ).inc()
            if failure.permanent:
                return _failed(recipient, message_id, failure, code="rejected")
            if attempt < max_attempts:
                time.sleep(
                    backoff_seconds(
                        attempt,
                        base=settings.BULKYARD_EMAIL_RETRY_BASE_SECONDS,
                        cap=settings.BULKYARD_EMAIL_RETRY_MAX_SECONDS,
                    )
                )
        return _failed(recipient, message_id, failure, code="temporary_failure")

    def _message(self, recipient: Recipient, message_id: str) -> BulkEmailMessage:
        rendered = self.letter.templates.render(recipient.variables)
        attachments = self.letter.attachments
        names = attachments if recipient.attachments is None else recipient.attachments
        return self.builder.build(
            MessageParts(
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                to=recipient.address,
                message_id=message_id,
            ),
            [(name, attachments[name].content, attachments[name].content_type) for name in names],
        )

    def _connect(self) -> BaseEmailBackend:
        if self.connection is None:
            connection = get_connection(fail_silently=False)
            connection.open()
            self.connection = connection
        return self.connection

    def _disconnect(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


def _classify(exc: Exception) -> _Attempt:
    """Permanent (5xx, a refused recipient) or temporary (4xx, network)."""
    code: int | None = None
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, text = next(iter(exc.recipients.values()))
        reason = _text(text)
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, reason = exc.smtp_code, _text(exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
        return _Attempt(False, None, reason)
    else:
        # Other backends (django-anymail's providers): an HTTP status, if any.
        status = getattr(exc, "status_code", None)
        if type(exc).__name__ == "AnymailRecipientsRefused":
            return _Attempt(True, None, reason)
        if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
            return _Attempt(True, None, reason)
        return _Attempt(False, None, reason)
    reason = f"{code} {reason}".strip()
    return _Attempt(code is not None and 500 <= code < 600, code, reason)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _failed(recipient: Recipient, message_id: str, failure: _Attempt, *, code: str) -> Outcome:
    if failure.smtp_code is not None:
        code = f"smtp_{failure.smtp_code}"
    return Outcome(
        number=recipient.number,
        address=recipient.address,
        sent=False,
        message_id=message_id,
        smtp_code=failure.smtp_code,
        code=code,
        message=failure.reason,
    )


def _unbuildable(recipient: Recipient, message_id: str, error: Exception) -> Outcome:
    return Outcome(
        number=recipient.number,
        address=recipient.address,
        sent=False,
        message_id=message_id,
        code="invalid_message",
        message=f"the message for {recipient.address} cannot be built: {error}",
    )


def _unknown(recipient: Recipient, row: EmailDelivery) -> Outcome:
    return Outcome(
        number=recipient.number,
        address=recipient.address,
        sent=False,
        message_id=row.message_id,
        code="delivery_unknown",
        message=(
            "an earlier run handed this message to the mail server and stopped before "
            f"recording the answer; it was not sent again. Look for Message-ID {row.message_id}"
        ),
    )


def _known_outcome(recipient: Recipient, row: EmailDelivery) -> Outcome | None:
    """The outcome of a recipient that needs no sending now, or None."""
    if row.item_number != recipient.number:
        return Outcome(
            number=recipient.number,
            address=recipient.address,
            sent=False,
            code="duplicate_recipient",
            message=f"{recipient.address} is already a recipient of this job (line "
            f"{row.item_number}); nobody gets the same email twice",
        )
    if row.status == LedgerStatus.DONE and row.succeeded:
        return Outcome(
            number=recipient.number,
            address=recipient.address,
            sent=True,
            message_id=row.message_id,
            smtp_code=row.smtp_code,
        )
    if row.status == LedgerStatus.DONE:
        return Outcome(
            number=recipient.number,
            address=recipient.address,
            sent=False,
            message_id=row.message_id,
            smtp_code=row.smtp_code,
            code=row.code,
            message=row.error,
        )
    if row.status == LedgerStatus.SENDING:
        return _unknown(recipient, row)
    return None


def _deliveries_claim(
    *, job_id: str, recipients: Sequence[Recipient], from_email: str
) -> dict[str, EmailDelivery]:
    """The ledger row of every recipient, created (pending, with a Message-ID)
    where none exists; the first line to claim an address keeps it."""
    # The sender's domain (make_msgid's default would look up this host's
    # name); short IDs keep the header on one line, which mime.py builds fast.
    domain = from_email.rpartition("@")[2].strip(">") or "bulkyard.local"
    EmailDelivery.objects.bulk_create(
        [
            EmailDelivery(
                job_id=job_id,
                recipient=_key(recipient.address),
                item_number=recipient.number,
                message_id=f"<{uuid.uuid4().hex}@{domain}>",
            )
            for recipient in _first_per_address(recipients)
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    rows = EmailDelivery.objects.filter(
        job_id=job_id, recipient__in=[_key(r.address) for r in recipients]
    )
    return {row.recipient: row for row in rows.iterator(chunk_size=2000)}


def _key(address: str) -> str:
    """Who a recipient is, for suppressing repeats: the whole address in lower
    case. Local parts may in theory be case-sensitive; in practice mailboxes
    are not, and a second copy is the worse mistake."""
    return address.lower()


def _first_per_address(recipients: Sequence[Recipient]) -> Iterator[Recipient]:
    seen: set[str] = set()
    for recipient in recipients:
        if _key(recipient.address) not in seen:
            seen.add(_key(recipient.address))
            yield recipient


def _outcomes_record(outcomes: Sequence[Outcome], *, job_id: str, claim: uuid.UUID) -> None:
    """Commit what the server answered for the messages of one batch."""
    mine = EmailDelivery.objects.filter(job_id=job_id, claim=claim)
    sent = [_key(o.address) for o in outcomes if o.sent]
    if sent:
        mine.filter(recipient__in=sent).done(succeeded=True)
    for outcome in outcomes:
        if not outcome.sent and outcome.code != "delivery_unknown":
            mine.filter(recipient=_key(outcome.address)).done(
                succeeded=False,
                smtp_code=outcome.smtp_code,
                code=outcome.code,
                error=outcome.message[:2000],
            )
