from decimal import Decimal

from django.conf import settings
from django.db import models


class Contact(models.Model):
    """The example import target: try imports and exports on it in minutes
    (``manage.py generate_contacts``). Your own models register the same way.

    Each user has contacts of their own (the target is scoped by ``owner``):
    two users may both have a contact with the same address."""

    # Null only for rows from before targets were scoped: nobody's, so no
    # import, export or email job reads them.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique constraint's index starts with it
        # No foreign key in the database: its check trigger runs for every
        # imported row and made PostgreSQL's share of an import a fifth
        # larger (decision 0011). Deleting a user still deletes their
        # contacts (Django's collector does CASCADE), and user ids are
        # never reused, so a row cannot pass to another user.
        db_constraint=False,
    )
    email = models.EmailField()
    name = models.CharField(max_length=200)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    city = models.CharField(max_length=100, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "email"], name="contact_unique_owner_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ImportKey(models.Model):
    """Which line of a running import holds each key: the highest line wins,
    whatever order chunks commit in. Deleted when the job finishes."""

    # (job, key) is the primary key: no surrogate id, so one index and no
    # sequence to maintain per row (decision 0004).
    pk = models.CompositePrimaryKey("job", "key")

    # No constraint in the database: PostgreSQL would check it once per ledger
    # row at commit (Django's foreign keys are deferred), an eighth of an import
    # chunk's time. The rows live only while their job runs; the ORM still
    # deletes them with the job.
    job = models.ForeignKey(
        "bulkyard_jobs.Job", on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    key = models.TextField()
    line = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.key} @ line {self.line}"
