"""Password reset emails, rationed per client address and per mailbox.

Each request of Django's reset form (``/accounts/password_reset/``) sends a
message to the mailbox given, if a user has it: without a limit, anyone can
fill a user's inbox, and spend the site's sending reputation. Requests are
counted in Django's cache (Redis when configured, so every web process
shares the counts; process memory on the embedded run) with the two-window
counters of API throttling (bulkyard/core/throttling.py).

A request counts whether or not the mailbox belongs to a user, so being
refused says nothing about which mailboxes exist.
"""

import hashlib
import math
from dataclasses import dataclass

from django.conf import settings

from bulkyard.core.throttling import WindowCountThrottle


@dataclass(frozen=True)
class ResetAllowance:
    allowed: bool
    # Seconds until the refused budget has room again; 0 when allowed.
    retry_after: int


class _ResetThrottle(WindowCountThrottle):
    """One budget (scope and rate) of reset requests, counted per ident."""

    def __init__(self, *, scope: str, rate: str) -> None:
        self.scope = scope
        self.rate = rate
        super().__init__()

    def allow_ident(self, ident: str) -> bool:
        return self.allow_key(self.cache_format % {"scope": self.scope, "ident": ident})


def password_reset_allow(*, email: str, client_address: str | None) -> ResetAllowance:
    """Whether a reset email may be sent to ``email`` at the request of a
    client at ``client_address``. An allowed request is counted against the
    address and the mailbox; a refused one is not counted."""
    budgets = (
        (
            "password_reset_address",
            settings.BULKYARD_PASSWORD_RESET_RATE_PER_ADDRESS,
            client_address or "unknown",
        ),
        ("password_reset_email", settings.BULKYARD_PASSWORD_RESET_RATE_PER_EMAIL, _mailbox(email)),
    )
    for scope, rate, ident in budgets:
        throttle = _ResetThrottle(scope=scope, rate=rate)
        if not throttle.allow_ident(ident):
            wait = throttle.wait() or throttle.duration
            return ResetAllowance(allowed=False, retry_after=max(1, math.ceil(wait)))
    return ResetAllowance(allowed=True, retry_after=0)


def _mailbox(email: str) -> str:
    """The mailbox as Django's reset form matches it (case-insensitively),
    hashed: the cache keeps no email addresses, and keys stay short."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()
