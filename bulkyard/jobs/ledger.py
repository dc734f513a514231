"""The send-once ledger: how a kind whose items act outside the database (an
email handed to a mail server, an HTTP request) keeps a chunk that runs again
from acting twice.

The engine records each chunk's results exactly once (its commit is guarded by
the chunk's lease), but it cannot take back an email: a chunk that crashes
after sending and runs again would send again. So such a kind keeps a ledger
row per item and job (a concrete model of ``SendOnceLedger``, unique on the
job and the kind's key for the item) and follows one protocol:

``pending``
    Created by the first run that meets the item (``bulk_create`` ignoring
    conflicts), before anything is sent. Nothing has been sent.
``sending``
    A run claimed the row (``SendOnceQuerySet.claim``: a committed update that
    takes only ``pending`` rows and stamps them with the run's ``claim`` and
    ``runs + 1``) and may have handed it over. No other run takes it. A run
    that stops before handing a claimed row over (the job is cancelled) gives
    it back (``release``: ``pending`` again).
``done``
    The outcome is committed (``done``): ``succeeded``, and what the kind
    keeps about it (an SMTP code, a response).

What a run does with a row it finds, which is what a chunk that runs again
after a crash or a duplicated wake-up does:

- ``done``: reports the recorded outcome; sends nothing.
- ``sending``: an earlier run stopped between handing the item over and
  recording the answer, so whether it acted is unknown. Reported as unknown
  (``delivery_unknown``, ``outcome_unknown``) and never sent again, unless
  the kind knows a second send does no harm (a replay-safe request), which it
  claims again with ``claim(retake=...)``.
- ``pending``: claims it and sends it.

Ledger writes commit on their own, outside the chunk's transaction: what was
sent stays recorded even if the chunk's commit never happens. A crash leaves at
most the rows of one claimed batch (plus what is in flight) unknown; kinds
claim in small batches for that reason. "Retry failed items" makes a new job,
with a new ledger; kinds leave out of it the failure codes whose items could
reach someone twice (``JobKind.not_retried_codes``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import F, Q


class LedgerStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Claimed by a run and perhaps handed over; the outcome not yet recorded.
    SENDING = "sending", "Sending"
    DONE = "done", "Done"


class SendOnceQuerySet(models.QuerySet[Any]):
    """The protocol's steps, on the ledger rows of one job a run works on."""

    def claim(self, claim: uuid.UUID, *, retake: Q | None = None) -> models.QuerySet[Any]:
        """Move these rows from ``pending`` to ``sending`` under ``claim`` (and
        the ``sending`` rows ``retake`` selects, whose second send does no
        harm); the rows this run now holds. A row another run took meanwhile
        is not among them: it may be on its way."""
        takeable = Q(status=LedgerStatus.PENDING)
        if retake is not None:
            takeable |= Q(status=LedgerStatus.SENDING) & retake
        self.filter(takeable).update(status=LedgerStatus.SENDING, claim=claim, runs=F("runs") + 1)
        return self.filter(claim=claim)

    def release(self, claim: uuid.UUID) -> int:
        """Back to ``pending``: rows this run claimed and never handed over."""
        return self.filter(claim=claim, status=LedgerStatus.SENDING).update(
            status=LedgerStatus.PENDING, claim=None
        )

    def done(self, *, succeeded: bool, **outcome: Any) -> int:
        """Record these rows' outcome: ``succeeded``, and the kind's own
        fields of it (``outcome``)."""
        return self.update(status=LedgerStatus.DONE, succeeded=succeeded, **outcome)


class SendOnceLedger(models.Model):
    """One item of one job of a kind that must not act twice (see the module)."""

    job = models.ForeignKey("bulkyard_jobs.Job", on_delete=models.CASCADE, db_index=False)
    # The input line (item number) the row was taken from.
    item_number = models.BigIntegerField()
    status = models.CharField(
        max_length=16, choices=LedgerStatus.choices, default=LedgerStatus.PENDING
    )
    # How many runs claimed the row to send it (a kind's own retries within
    # one run, of a temporary error, do not count here).
    runs = models.PositiveSmallIntegerField(default=0)
    # Which run holds the row while it sends.
    claim = models.UUIDField(null=True, blank=True)
    # Set once ``done``: whether the item did what it was sent to do.
    succeeded = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SendOnceQuerySet.as_manager()

    class Meta:
        abstract = True
