"""The data app's services."""

from bulkyard.data.models import ImportKey


def import_ledger_clear(*, job_id: str) -> int:
    """Delete an import's key ledger; returns how many rows went.

    The rows matter only while the job's chunks commit. Deleting a million of
    them takes seconds, so it is the kind's cleanup, which runs after the
    job's end is saved and announced, rather than part of its finish step.
    Safe to run twice; should it never run, ``jobs_purge`` deletes the rows
    with the job.
    """
    deleted, _ = ImportKey.objects.filter(job_id=job_id).delete()
    return deleted
