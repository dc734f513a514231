"""The job's document frequencies for text.process: added by each first-pass
chunk inside its commit (so exactly once), read by the second pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection

from bulkyard.text.models import TermCount

_BATCH = 5000


def term_counts_add(job_id: str, frequencies: Mapping[str, int]) -> None:
    """Add a chunk's document frequencies to the job's (PostgreSQL and SQLite
    share this upsert syntax)."""
    table = TermCount._meta.db_table
    # In one order for every chunk: two chunks committing at once take their
    # row locks in the same order, so they cannot deadlock.
    rows = [(job_id, term, count) for term, count in sorted(frequencies.items())]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (job_id, term, documents) VALUES (%s, %s, %s) "  # noqa: S608 - the model's table
            f"ON CONFLICT (job_id, term) DO UPDATE SET documents = {table}.documents + "
            "EXCLUDED.documents",
            rows,
        )


def term_counts(job_id: str, terms: Iterable[str]) -> dict[str, int]:
    wanted = list(terms)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _BATCH):
        found.update(
            TermCount.objects.filter(
                job_id=job_id, term__in=wanted[start : start + _BATCH]
            ).values_list("term", "documents")
        )
    return found


def term_counts_clear(job_id: str) -> None:
    TermCount.objects.filter(job_id=job_id).delete()
