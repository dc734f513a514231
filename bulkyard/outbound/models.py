"""The per-request ledger: what a chunk has sent and what came back, kept as it
happens so that a chunk run again after a crash does not send it again."""

from django.db import models


class CallStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Handed to the network, answer not yet recorded. After a crash, sent
    # again only if that is harmless (replay-safe); otherwise reported.
    SENDING = "sending", "Sending"
    DONE = "done", "Done"


class OutboundCall(models.Model):
    job = models.ForeignKey("bulkyard_jobs.Job", on_delete=models.CASCADE, db_index=False)
    item_number = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.PENDING)
    # How many runs took the request to send it.
    runs = models.PositiveSmallIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True)
    # The recorded outcome (succeeded, code, message, output), secrets masked.
    outcome = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "item_number"], name="outbound_call_unique_item"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.item_number} ({self.status})"
