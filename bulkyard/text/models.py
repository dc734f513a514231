"""What the second pass of ``text.process`` needs from the first."""

from django.db import models


class TermCount(models.Model):
    """In how many of a job's documents a term occurs (its document frequency),
    summed chunk by chunk as the first pass commits."""

    job = models.ForeignKey("bulkyard_jobs.Job", on_delete=models.CASCADE, db_constraint=False)
    term = models.CharField(max_length=100)
    documents = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "term"], name="term_count_unique_term"),
        ]

    def __str__(self) -> str:
        return f"{self.term}: {self.documents}"
