"""Email address checks shared by the apps (import targets, bulk email)."""

import email.policy
import re

from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import EmailValidator, validate_email

# Django's own email patterns, compiled once: its validator reaches them through
# lazy objects, which made it a third of the per-row cost of an import. An
# address they match is one Django accepts; anything else goes to
# ``validate_email`` itself, so both accept and refuse exactly the same.
_EMAIL_USER = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
_EMAIL_MAX_LENGTH = 320  # EmailValidator's limit (RFC 3696 errata)


def is_email(text: str) -> bool:
    """Whether Django's ``validate_email`` accepts ``text``, quickly."""
    local, at, domain = text.rpartition("@")
    if (
        at
        and len(text) <= _EMAIL_MAX_LENGTH
        and _EMAIL_USER.match(local)
        and _EMAIL_DOMAIN.match(domain)
    ):
        return True
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def normalise_email(text: str) -> str:
    """One spelling per mailbox: the domain part is case-insensitive, the
    local part is left as it is (RFC 5321 lets servers tell cases apart)."""
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def mailbox_address(value: str) -> str:
    """The address of a header value that names exactly one mailbox, with or
    without a display name (``Shop <shop@example.com>``); raises ``ValueError``
    saying what is wrong otherwise (a line break, two addresses, a group, no
    address). A display name holding a comma must be quoted, as in headers."""
    if "\n" in value or "\r" in value:
        raise ValueError("holds a line break, which could forge email headers")
    try:
        header = email.policy.default.header_factory("To", value)
        addresses = header.addresses
    except (IndexError, ValueError):  # the parser gives up on some values ("a@")
        raise ValueError("is not an email address") from None
    if len(addresses) > 1:
        raise ValueError(
            f"holds {len(addresses)} addresses where one is expected (a display name "
            'with a comma goes in quotes: "Doe, Jo" <jo@example.com>)'
        )
    if len(addresses) != 1 or header.defects or not is_email(addresses[0].addr_spec):
        raise ValueError("is not an email address")
    try:
        # What Django's SMTP backend does with the sender of every message: a
        # value it cannot read whole ("a@x.example,", a group) would fail each
        # send, as a temporary error, retried for nothing.
        sanitize_address(value, "utf-8")
    except ValueError:
        raise ValueError("is not one email address") from None
    return str(addresses[0].addr_spec)
