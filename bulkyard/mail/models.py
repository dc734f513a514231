"""The per-recipient ledger that keeps a bulk email from reaching anyone twice."""

from django.db import models


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Handed to the mail server, outcome not yet recorded. A row left in this
    # state by a crash may or may not have been delivered: it is never sent
    # again automatically (see docs/decisions/0005-bulk-email.md).
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailDelivery(models.Model):
    """One recipient of one email job: claimed once, sent at most once."""

    job = models.ForeignKey("bulkyard_jobs.Job", on_delete=models.CASCADE, db_index=False)
    # The address in lower case: one row per mailbox, however it was spelt.
    recipient = models.CharField(max_length=320)
    # The input line (item number) this recipient was taken from.
    item_number = models.BigIntegerField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Chosen before the first attempt and kept for every later one, so that a
    # message handed over twice can be recognised as the same message.
    message_id = models.CharField(max_length=255)
    # How many times a run took the row to send it (temporary errors are tried
    # again within one run and do not count here).
    attempts = models.PositiveSmallIntegerField(default=0)
    # Which run of the chunk holds the row while it sends.
    claim = models.UUIDField(null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "email deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "recipient"], name="email_delivery_unique_recipient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"
