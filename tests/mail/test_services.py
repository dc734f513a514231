"""The sending protocol in-process, with Django's locmem backend standing in for
the mail server (the SMTP conversation itself is tested against aiosmtpd)."""

import smtplib

import pytest

from bulkyard.jobs.ledger import LedgerStatus
from bulkyard.mail.models import EmailDelivery
from bulkyard.mail.services import ChunkSender, Letter, Recipient, _classify
from bulkyard.mail.templates import EmailTemplates

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user):
    from bulkyard.jobs.models import Job

    return Job.objects.create(owner=user, kind="email.send", input_format="csv", chunk_size=10)


@pytest.fixture
def outbox(settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def _sender(job, *, stop_after: int | None = None) -> ChunkSender:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return stop_after is not None and calls["n"] > stop_after

    letter = Letter(
        templates=EmailTemplates.compile(subject="Hi {{ n }}", text="Body", html=None),
        from_email="shop@example.com",
    )
    return ChunkSender(job_id=str(job.pk), letter=letter, should_stop=should_stop)


def _recipients(count: int) -> list[Recipient]:
    return [Recipient(n + 2, f"r{n}@example.com", {"n": n}) for n in range(count)]


def test_a_second_run_of_the_same_chunk_sends_nothing_again(job, outbox):
    first = _sender(job).send(_recipients(5))
    second = _sender(job).send(_recipients(5))

    assert len(outbox) == 5
    assert [o.sent for o in second] == [True] * 5
    assert [o.message_id for o in second] == [o.message_id for o in first]


def test_a_recipient_left_sending_by_a_crash_is_reported_unknown_and_not_sent(job, outbox):
    _sender(job).send(_recipients(2))
    EmailDelivery.objects.filter(recipient="r1@example.com").update(status=LedgerStatus.SENDING)
    outbox.clear()

    outcomes = {o.address: o for o in _sender(job).send(_recipients(2))}

    assert outbox == []
    assert outcomes["r1@example.com"].code == "delivery_unknown"
    assert outcomes["r1@example.com"].message_id in outcomes["r1@example.com"].message


def test_a_cancelled_run_puts_back_what_it_did_not_send(job, outbox):
    outcomes = _sender(job, stop_after=3).send(_recipients(8))

    assert len(outbox) == len(outcomes) == 3
    rows = EmailDelivery.objects.values_list("status", "succeeded")
    assert sorted(rows) == [("done", True)] * 3 + [("pending", None)] * 5


def test_the_message_id_is_chosen_before_sending_and_used_in_the_message(job, outbox):
    [outcome] = _sender(job).send(_recipients(1))

    assert outbox[0].extra_headers["Message-ID"] == outcome.message_id
    assert EmailDelivery.objects.get().message_id == outcome.message_id


@pytest.mark.parametrize(
    ("error", "permanent", "code"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.io": (550, b"no such user")}), True, 550),
        (smtplib.SMTPRecipientsRefused({"a@x.io": (450, b"mailbox busy")}), False, 450),
        (smtplib.SMTPDataError(451, b"try later"), False, 451),
        (smtplib.SMTPDataError(554, b"spam"), True, 554),
        (smtplib.SMTPSenderRefused(553, b"not allowed", "s@x.io"), True, 553),
        (smtplib.SMTPServerDisconnected("gone"), False, None),
        (ConnectionResetError("reset"), False, None),
    ],
)
def test_smtp_errors_are_permanent_for_5xx_and_temporary_otherwise(error, permanent, code):
    attempt = _classify(error)

    assert (attempt.permanent, attempt.smtp_code) == (permanent, code)


def test_a_max_attempts_setting_below_one_still_tries_each_message_once(job, outbox, settings):
    settings.BULKYARD_EMAIL_MAX_ATTEMPTS = 0

    outcomes = _sender(job).send(_recipients(2))

    assert [o.sent for o in outcomes] == [True, True]
    assert len(outbox) == 2
