"""Whether the configured mail server can be reached: a TCP connection to
``EMAIL_HOST:EMAIL_PORT``, nothing sent.

Asked when an ``email.send`` job is submitted (a warning in the ``202``, not a
refusal: the server may be back before the job's first chunk runs, and the
sending retries anyway) and by ``/health/`` for staff. Only the SMTP backend
talks to a server; the console, file and in-memory backends have none to reach.
"""

import socket
import threading
import time
from enum import StrEnum

from django.conf import settings

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# A submission waits for the check: a server that drops packets costs at most this.
CONNECT_TIMEOUT_SECONDS = 1.0
# A burst of submissions (a script sending many jobs) connects once, not per job.
CACHE_SECONDS = 10.0

_lock = threading.Lock()
# (when checked, the address checked, its state)
_cached: tuple[float, tuple[str, int], "MailServerState"] | None = None


class MailServerState(StrEnum):
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    NOT_USED = "not_used"


def mail_server_address() -> tuple[str, int]:
    return str(settings.EMAIL_HOST), int(settings.EMAIL_PORT)


def _connects(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError:  # refused, timed out, a name that does not resolve
        return False


def mail_server_state(*, fresh: bool = False) -> MailServerState:
    """``not_used`` unless ``EMAIL_BACKEND`` is the SMTP backend; otherwise
    whether a TCP connection to the server opens within a second. Answers are
    reused for ``CACHE_SECONDS`` per address (``fresh`` skips the copy)."""
    global _cached
    if settings.EMAIL_BACKEND != SMTP_BACKEND:
        return MailServerState.NOT_USED
    address = mail_server_address()
    with _lock:
        if (
            not fresh
            and _cached is not None
            and _cached[1] == address
            and time.monotonic() - _cached[0] < CACHE_SECONDS
        ):
            return _cached[2]
    state = MailServerState.REACHABLE if _connects(address) else MailServerState.UNREACHABLE
    with _lock:
        _cached = (time.monotonic(), address, state)
    return state
