"""Email address checks shared by the apps (import targets, bulk email)."""

import re

from django.core.exceptions import ValidationError
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
