"""Running one chunk of outbound requests: many in flight on one event loop,
each recorded in the ledger in batches as it completes.

The send-once protocol (``bulkyard.jobs.ledger``), as for email: a batch of
requests is marked ``sending`` (committed) before any of them goes out;
outcomes are committed in batches as they come back. A chunk run again skips
what is ``done``; a request left ``sending`` by a crash is sent again if that
is harmless (a GET, a PUT, a webhook, a request with an Idempotency-Key:
``replay_safe``) and otherwise reported ``outcome_unknown``, never sent again
automatically.

Database work happens on one helper thread (Django's ORM is synchronous and
refuses to run inside an event loop); the loop only waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from bulkyard.core.event_loops import event_loop_factory
from bulkyard.core.http.client import Caller, CallOutcome, RequestSpec, new_session
from bulkyard.core.http.options import CallOptions
from bulkyard.core.http.politeness import host_gate
from bulkyard.jobs.sdk import LedgerStatus
from bulkyard.outbound.models import OutboundCall

logger = logging.getLogger(__name__)

# Requests marked "sending" together: a crash leaves at most this many (plus
# what is in flight) whose outcome is unknown.
CLAIM_BATCH = 50
# Outcomes are committed when this many are waiting, or this often.
RECORD_BATCH = 200
RECORD_SECONDS = 0.5
# How often a long chunk renews its lease and looks for a cancel.
STOP_CHECK_SECONDS = 1.0


@dataclass(slots=True)
class ChunkCalls:
    """Sends one chunk's requests; ``run`` returns the outcomes it knows."""

    job_id: str
    options: CallOptions
    concurrency: int
    should_stop: Callable[[], bool]
    # Ledger row ids by item number, and the requests a crashed run left
    # "sending" that are sent again (replay-safe ones).
    pks: dict[int, int] = field(default_factory=dict, init=False)
    resend: set[int] = field(default_factory=set, init=False)

    def run(self, specs: Sequence[RequestSpec]) -> list[CallOutcome]:
        known, to_send = self._triage(specs)
        if to_send:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbound-db") as db:
                try:
                    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                        known += runner.run(_Run(self, db).send(to_send))
                finally:
                    # In the helper thread: its own connection, not this one.
                    db.submit(lambda: connection.close()).result()
        return known

    def _triage(self, specs: Sequence[RequestSpec]) -> tuple[list[CallOutcome], list[RequestSpec]]:
        numbers = [spec.number for spec in specs]
        OutboundCall.objects.bulk_create(
            [OutboundCall(job_id=self.job_id, item_number=n) for n in numbers],
            ignore_conflicts=True,
            batch_size=1000,
        )
        rows = {
            row.item_number: row
            for row in OutboundCall.objects.filter(job_id=self.job_id, item_number__in=numbers)
        }
        self.pks = {number: row.pk for number, row in rows.items()}
        known: list[CallOutcome] = []
        to_send: list[RequestSpec] = []
        unknown: list[CallOutcome] = []
        for spec in specs:
            row = rows[spec.number]
            if row.status == LedgerStatus.DONE and row.outcome is not None:
                known.append(CallOutcome.from_json(spec.number, row.outcome))
            elif row.status == LedgerStatus.SENDING and not spec.replay_safe:
                unknown.append(_unknown(spec))
            else:
                if row.status == LedgerStatus.SENDING:
                    self.resend.add(spec.number)
                to_send.append(spec)
        if unknown:
            _record(unknown, self.pks)
        return known + unknown, to_send


def _unknown(spec: RequestSpec) -> CallOutcome:
    return CallOutcome(
        number=spec.number,
        succeeded=False,
        code="outcome_unknown",
        message=(
            f"an earlier run sent this {spec.method} and stopped before recording the answer; "
            "it was not sent again, as sending it twice may not be harmless"
        ),
        output={"status": None},
    )


def _claim(job_id: str, numbers: list[int], claim: uuid.UUID, resend: set[int]) -> set[int]:
    """Mark the requests as being sent; the ones this run may send. A row
    another run marked meanwhile is not taken (it may be on its way)."""
    close_old_connections()
    held = OutboundCall.objects.filter(job_id=job_id, item_number__in=numbers).claim(
        claim, retake=Q(item_number__in=[n for n in numbers if n in resend])
    )
    return set(held.values_list("item_number", flat=True))


def _record(outcomes: Sequence[CallOutcome], pks: dict[int, int]) -> None:
    """Commit outcomes: facts about what was sent, whichever run sent it.
    One prepared UPDATE run for many rows (Django's bulk_update, a CASE per
    column over every row, cost half a millisecond per request)."""
    table = OutboundCall._meta.db_table
    outcome_field = OutboundCall._meta.get_field("outcome")
    now = timezone.now()
    rows = [
        (
            outcome.succeeded,
            outcome_field.get_db_prep_save(outcome.as_json(), connection),
            now,
            pks[outcome.number],
        )
        for outcome in outcomes
    ]
    # The ledger's ``done`` step (SendOnceQuerySet.done), as one statement.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = '{LedgerStatus.DONE}', succeeded = %s, outcome = %s, "  # noqa: S608 - names from the model
            "updated_at = %s WHERE id = %s",
            rows,
        )


def _release(job_id: str, numbers: Sequence[int], claim: uuid.UUID) -> None:
    """Never sent (the job was cancelled): back to pending."""
    OutboundCall.objects.filter(job_id=job_id, item_number__in=list(numbers)).release(claim)


class _Run:
    def __init__(self, chunk: ChunkCalls, db: ThreadPoolExecutor) -> None:
        self.chunk = chunk
        self.db = db
        self.claim = uuid.uuid4()
        self.outcomes: list[CallOutcome] = []
        self.unrecorded: list[CallOutcome] = []

    async def _db(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db, lambda: function(*args, **kwargs))

    async def send(self, specs: Sequence[RequestSpec]) -> list[CallOutcome]:
        job_id = self.chunk.job_id
        gate = host_gate()
        limiter = asyncio.Semaphore(self.chunk.concurrency)
        session = new_session(limit=self.chunk.concurrency)
        caller = Caller(session, gate, self.chunk.options)
        tasks: set[asyncio.Task[None]] = set()
        recorder = asyncio.create_task(self._record_periodically())
        never_sent: list[int] = []
        try:
            for start in range(0, len(specs), CLAIM_BATCH):
                batch = specs[start : start + CLAIM_BATCH]
                if await self._db(self.chunk.should_stop):
                    never_sent += [spec.number for spec in specs[start:]]
                    break
                numbers = [s.number for s in batch]
                mine = await self._db(_claim, job_id, numbers, self.claim, self.chunk.resend)
                for spec in batch:
                    if spec.number not in mine:
                        # Another run holds it (this one lost its lease): that
                        # run sends it and records its outcome.
                        self.outcomes.append(_unknown(spec))
                        continue
                    await limiter.acquire()
                    task = asyncio.create_task(self._one(caller, spec, limiter))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            while tasks:
                await asyncio.wait(set(tasks), timeout=STOP_CHECK_SECONDS)
                # Renews the lease of a chunk that is still waiting on answers.
                await self._db(self.chunk.should_stop)
        finally:
            for task in tasks:
                task.cancel()
            recorder.cancel()
            await session.close()
            await gate.close()
            await self._flush()
            if never_sent:
                await self._db(_release, job_id, never_sent, self.claim)
        return self.outcomes

    async def _one(self, caller: Caller, spec: RequestSpec, limiter: asyncio.Semaphore) -> None:
        try:
            outcome = await caller.call(spec)
        except Exception as exc:
            # A bug, or Redis gone: recorded on this request, never silently
            # dropped (a request without an outcome would vanish from the job).
            logger.exception("request %s of job %s raised", spec.number, self.chunk.job_id)
            outcome = CallOutcome(
                number=spec.number,
                succeeded=False,
                code="unexpected_error",
                message=f"{type(exc).__name__}: {exc}",
                output={"status": None},
            )
        finally:
            limiter.release()
        self.outcomes.append(outcome)
        self.unrecorded.append(outcome)
        if len(self.unrecorded) >= RECORD_BATCH:
            await self._flush()

    async def _flush(self) -> None:
        batch, self.unrecorded = self.unrecorded, []
        if batch:
            await self._db(_record, batch, self.chunk.pks)

    async def _record_periodically(self) -> None:
        while True:
            await asyncio.sleep(RECORD_SECONDS)
            await self._flush()
