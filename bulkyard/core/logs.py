"""Structured logs: one formatter for every log line, and the context that
follows work around.

Every module logs through the standard library (``logging.getLogger``), as
Django, Celery and kombu do; structlog's ``ProcessorFormatter`` renders each
record, as JSON (``LOG_FORMAT=json``: one object per line) or for people
(``console``), with the fields bound in this context: the engine binds
``job_id``, ``chunk_id``, ``kind`` and ``owner`` where a chunk or a job's step
starts (``log_context``), the access log binds ``request_id`` for the time of
a request, and Celery's task signals bind ``task_id`` and ``task``. Values
under secret-looking names are masked (``bulkyard.core.secrets``).

Inside a Celery task, the chunk or job step the task runs stays bound until
the task ends (``task_scope_end``), so Celery's own line for the task ("Task …
succeeded") carries the job too.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
import structlog.tracebacks
from structlog.typing import EventDict, Processor

from bulkyard.core.secrets import MASK, is_secret_name

# Keys of a LogRecord that are not fields of the line.
_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_in_task: ContextVar[bool] = ContextVar("bulkyard_log_in_task", default=False)


@contextmanager
def log_context(*, until_task_ends: bool = False, **fields: Any) -> Iterator[None]:
    """Bind ``fields`` to every log line of this block (and of threads and
    event loops it starts with the context copied); they are unbound when it
    ends. ``until_task_ends``: inside a Celery task, when the task ends
    instead, for the one piece of work a task does (a chunk, a job's step),
    so that Celery's line about the task names it too."""
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        if not (until_task_ends and _in_task.get()):
            structlog.contextvars.reset_contextvars(**tokens)


def task_scope_begin(**fields: Any) -> None:
    """A Celery task starts in this process: nothing of the last one stays."""
    structlog.contextvars.clear_contextvars()
    _in_task.set(True)
    structlog.contextvars.bind_contextvars(**fields)


def task_scope_end() -> None:
    structlog.contextvars.clear_contextvars()
    _in_task.set(False)


# A request id from the client is kept only if it looks like one (a UUID, a
# trace id): anything else could forge log lines or flood them.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{8,128}")


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-ID`` if sane, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _extra_fields(logger: Any, name: str, event: EventDict) -> EventDict:
    """Fields given as ``extra=`` to a standard-library call, onto the line."""
    record = event.get("_record")
    if record is not None:
        for key, value in vars(record).items():
            if key not in _RECORD_KEYS and not key.startswith("_"):
                event.setdefault(key, value)
        request = event.get("request")
        if request is not None and hasattr(request, "path"):
            # Django's request loggers pass the request, whose text shows the
            # query string (tickets, tokens): its method and path only.
            event["request"] = f"{getattr(request, 'method', '')} {request.path}"
    return event


def _masked(logger: Any, name: str, event: EventDict) -> EventDict:
    for key in event:
        if key != "event" and is_secret_name(key):
            event[key] = MASK
    return event


def _processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _extra_fields,
        _masked,
    ]


def formatter(*, json: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler (``LOGGING`` in config/settings/logging.py)."""
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    # Tracebacks without the frames' local variables: structlog's defaults
    # print them, and a frame's locals hold what the masking above never
    # sees (an SMTP password, a callback secret, a request's headers). Rich's
    # rendering of them also cost ~5 s of CPU per logged error, which made an
    # outage's every failed wake-up a 5-second request.
    if json:
        final += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(default=str),
        ]
    else:
        final += [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        processors=final, foreign_pre_chain=_processors(), keep_exc_info=False
    )


def bound() -> MutableMapping[str, Any]:
    """The fields bound in this context (for the tests and for handing on)."""
    return structlog.contextvars.get_contextvars()
