"""Services of the data app that are not a job kind's own steps."""

from bulkyard.data.models import ImportKey


def import_ledger_clear(*, job_id: str) -> int:
    """Delete a finished import's key ledger; returns how many rows went.

    The rows matter only while the job's chunks commit. Deleting a million
    of them takes seconds, so the import's finish step hands this to a task
    instead of keeping the job unfinished meanwhile. Safe to run twice.
    """
    deleted, _ = ImportKey.objects.filter(job_id=job_id).delete()
    return deleted
