"""The job's document frequencies for text.process: added by each first-pass
chunk inside its commit (so exactly once), read by the second pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection

from bulkyard.text.models import TermCount

_BATCH = 5000


def term_counts_add(job_id: str, frequencies: Mapping[str, int]) -> None:
    """Add a chunk's document frequencies to the job's."""
    table = TermCount._meta.db_table
    # In one order for every chunk: two chunks committing at once take their
    # row locks in the same order, so they cannot deadlock.
    ordered = sorted(frequencies.items())
    upsert = (
        f"ON CONFLICT (job_id, term) DO UPDATE SET documents = {table}.documents + "
        "EXCLUDED.documents"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the whole chunk, its terms as two arrays: a
            # quarter of the time of a statement per term.
            cursor.execute(
                f"INSERT INTO {table} (job_id, term, documents) "  # noqa: S608 - the model's table
                f"SELECT %s, term, documents FROM unnest(%s::text[], %s::int[]) "
                f"AS chunk(term, documents) {upsert}",
                [job_id, [term for term, _ in ordered], [count for _, count in ordered]],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} (job_id, term, documents) VALUES (%s, %s, %s) {upsert}",  # noqa: S608
                [(job_id, term, count) for term, count in ordered],
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
