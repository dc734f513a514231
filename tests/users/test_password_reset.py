"""Password reset emails are limited per client address and per mailbox,
counted in the real Redis cache, and a refusal says nothing about whether a
mailbox is a user's."""

import random
import re
import uuid

import pytest
from django.core import mail

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RESET = "/accounts/password_reset/"


@pytest.fixture(autouse=True)
def _rates(settings) -> None:
    settings.BULKYARD_PASSWORD_RESET_RATE_PER_ADDRESS = "5/hour"
    settings.BULKYARD_PASSWORD_RESET_RATE_PER_EMAIL = "3/hour"


# Counts live in the shared test Redis for an hour: each test asks from
# addresses and for mailboxes of its own.
def _address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def _mailbox() -> str:
    return f"{uuid.uuid4().hex}@example.test"


def _ask(client, email: str, *, address: str):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def test_reset_emails_beyond_the_per_address_limit_are_refused(client):
    address = _address()
    users = [UserFactory(email=_mailbox()) for _ in range(6)]

    statuses = [_ask(client, user.email, address=address).status_code for user in users]

    assert statuses == [302] * 5 + [429]
    assert len(mail.outbox) == 5


def test_reset_emails_beyond_the_per_mailbox_limit_are_refused(client):
    user = UserFactory(email=_mailbox())

    statuses = [_ask(client, user.email, address=_address()).status_code for _ in range(4)]

    assert statuses == [302] * 3 + [429]
    assert len(mail.outbox) == 3


def test_a_mailbox_is_counted_whatever_the_letter_case(client):
    user = UserFactory(email=_mailbox())
    spellings = [user.email, user.email.upper(), user.email.title(), user.email.upper()]

    statuses = [_ask(client, email, address=_address()).status_code for email in spellings]

    assert statuses == [302] * 3 + [429]


def test_a_refused_reset_looks_the_same_for_a_users_mailbox_and_an_unknown_one(client):
    known, unknown = UserFactory(email=_mailbox()).email, _mailbox()

    answers = []
    for email in (known, unknown):
        allowed = [_ask(client, email, address=_address()).status_code for _ in range(3)]
        refused = _ask(client, email, address=_address())
        # The minutes left may tick between the two; nothing else may differ.
        page = re.sub(r"\d+ minute", "N minute", refused.content.decode())
        answers.append((allowed, refused.status_code, page))

    assert answers[0] == answers[1]
    assert answers[0][1] == 429
