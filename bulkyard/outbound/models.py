"""The per-request ledger: what a chunk has sent and what came back, kept as it
happens so that a chunk run again after a crash does not send it again."""

from django.db import models

from bulkyard.jobs.sdk import SendOnceLedger


class OutboundCall(SendOnceLedger):
    """One request of one job (the protocol: ``bulkyard.jobs.ledger``). A row
    a crash left ``sending`` is sent again only if that is harmless
    (replay-safe); otherwise it is reported ``outcome_unknown``."""

    # The recorded outcome (succeeded, code, message, output), secrets masked.
    outcome = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "item_number"], name="outbound_call_unique_item"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.item_number} ({self.status})"
