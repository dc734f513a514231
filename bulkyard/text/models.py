"""What the second pass of ``text.process`` needs from the first."""

from django.db import models

from bulkyard.text.keywords import MAX_LENGTH


class TermCount(models.Model):
    """In how many of a job's documents a term occurs (its document frequency),
    summed chunk by chunk as the first pass commits."""

    job = models.ForeignKey("bulkyard_jobs.Job", on_delete=models.CASCADE, db_constraint=False)
    term = models.CharField(max_length=MAX_LENGTH)
    documents = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "term"], name="term_count_unique_term"),
        ]

    def __str__(self) -> str:
        return f"{self.term}: {self.documents}"
