"""The per-recipient ledger that keeps a bulk email from reaching anyone twice."""

from django.db import models

from bulkyard.jobs.sdk import SendOnceLedger


class EmailDelivery(SendOnceLedger):
    """One recipient of one email job: claimed once, sent at most once
    (the protocol: ``bulkyard.jobs.ledger``). A row a crash left ``sending``
    may or may not have been delivered: it is never sent again automatically
    (see docs/decisions/0005-bulk-email.md)."""

    # The address in lower case: one row per mailbox, however it was spelt.
    recipient = models.CharField(max_length=320)
    # Chosen before the first attempt and kept for every later one, so that a
    # message handed over twice can be recognised as the same message.
    message_id = models.CharField(max_length=255)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "email deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "recipient"], name="email_delivery_unique_recipient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"
