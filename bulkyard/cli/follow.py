"""Following a job to its end: over its WebSocket stream, or by reading it
every ``POLL_SECONDS`` when the stream cannot be had (no ticket, no
WebSocket through a proxy, the connection dropped). It never hangs: a silent
stream is checked over HTTP every ``QUIET_SECONDS``, and the server being
unreachable for ``PATIENCE_SECONDS`` in a row ends the watch with an error."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from bulkyard.cli.client import ApiClient, user_agent
from bulkyard.cli.errors import FINISHED, ApiError

POLL_SECONDS = 2.0
QUIET_SECONDS = 15.0
PATIENCE_SECONDS = 120.0
MAX_WAIT_SECONDS = 30.0  # the longest Retry-After waited for before reading again
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a snapshot carries the job's summary


@dataclass(frozen=True)
class JobState:
    """What a progress display shows: the job's counters and rates, from its
    JSON (``GET /jobs/{id}/``, ``job.snapshot``) or a ``job.progress`` message."""

    job_id: str
    status: str
    total: int | None
    processed: int
    succeeded: int
    failed: int
    percent: float | None
    items_per_second: float | None
    eta_seconds: float | None
    duration_seconds: float | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> "JobState":
        progress = job.get("progress") or {}
        return cls(
            job_id=str(job["id"]),
            status=str(job["status"]),
            total=job.get("total_items"),
            processed=job.get("processed_items") or 0,
            succeeded=job.get("succeeded_items") or 0,
            failed=job.get("failed_items") or 0,
            percent=progress.get("percent"),
            items_per_second=progress.get("items_per_second"),
            eta_seconds=progress.get("eta_seconds"),
            duration_seconds=progress.get("duration_seconds"),
        )

    def with_progress(self, message: dict[str, Any]) -> "JobState":
        return replace(
            self,
            status=str(message.get("status", self.status)),
            total=message.get("total_items", self.total),
            processed=message.get("processed_items") or 0,
            succeeded=message.get("succeeded_items") or 0,
            failed=message.get("failed_items") or 0,
            percent=message.get("percent"),
            items_per_second=message.get("items_per_second"),
            eta_seconds=message.get("eta_seconds"),
            duration_seconds=message.get("duration_seconds"),
        )


class LiveUnavailable(Exception):
    """The WebSocket stream could not be had or was lost: read the job instead."""


Show = Callable[[JobState], None]
Notice = Callable[[str], None]


def follow_job(
    client: ApiClient, job: dict[str, Any], *, show: Show, notice: Notice
) -> dict[str, Any]:
    """Shows the job's progress until it ends; returns its final JSON."""
    show(JobState.from_job(job))
    if job["status"] in FINISHED:
        return job
    try:
        return _over_websocket(client, job, show=show)
    except LiveUnavailable as exc:
        notice(f"live updates unavailable ({exc}): reading the job every {POLL_SECONDS:g} s")
    return _by_polling(client, str(job["id"]), show=show, notice=notice)


def _over_websocket(client: ApiClient, job: dict[str, Any], *, show: Show) -> dict[str, Any]:
    job_id, state = str(job["id"]), JobState.from_job(job)
    try:
        ticket = client.ws_ticket()
    except ApiError as exc:
        raise LiveUnavailable(f"no ticket: {exc.message}") from None
    try:
        socket = connect(
            client.websocket_url(job_id, ticket),
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header=user_agent(),
        )
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise LiveUnavailable(f"could not connect: {exc or type(exc).__name__}") from None
    with socket:
        while True:
            try:
                raw = socket.recv(timeout=QUIET_SECONDS)
            except TimeoutError:
                # Nothing changed for a while, or the stream is stuck: ask.
                current = _read(client, job_id)
                show(JobState.from_job(current))
                if current["status"] in FINISHED:
                    return current
                continue
            except ConnectionClosed as exc:
                raise LiveUnavailable(f"the connection closed: {_close_reason(exc)}") from None
            message = _message(raw)
            kind = message.get("type")
            if kind in ("job.snapshot", "job.finished"):
                current = message["job"]
                show(JobState.from_job(current))
                if kind == "job.finished" or current["status"] in FINISHED:
                    return current
            elif kind == "job.progress":
                state = state.with_progress(message)
                show(state)
            elif kind == "job.status":
                state = replace(state, status=str(message["status"]))
                show(state)
            elif kind == "error":
                raise LiveUnavailable(f"{message.get('code')}: {message.get('message')}")


def _read(client: ApiClient, job_id: str) -> dict[str, Any]:
    try:
        return client.job_get(job_id)
    except ApiError as exc:
        if exc.transient:
            raise LiveUnavailable(exc.message) from None
        raise


def _message(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _close_reason(exc: ConnectionClosed) -> str:
    close = exc.rcvd or exc.sent
    if close is None:
        return "no close frame"
    return f"code {close.code}" + (f", {close.reason}" if close.reason else "")


def _by_polling(client: ApiClient, job_id: str, *, show: Show, notice: Notice) -> dict[str, Any]:
    failing_since: float | None = None
    while True:
        try:
            job = client.job_get(job_id)
        except ApiError as exc:
            if not exc.transient:
                raise
            now = time.monotonic()
            if failing_since is None:
                failing_since = now
                notice(f"{exc.message}: trying again for up to {PATIENCE_SECONDS:g} s")
            elif now - failing_since > PATIENCE_SECONDS:
                raise
            time.sleep(min(exc.retry_after or POLL_SECONDS, MAX_WAIT_SECONDS))
            continue
        if failing_since is not None:
            notice("the server answers again")
            failing_since = None
        show(JobState.from_job(job))
        if job["status"] in FINISHED:
            return job
        time.sleep(POLL_SECONDS)
