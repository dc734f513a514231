"""Beat's upkeep of the web pages' leftovers."""

from celery import shared_task

from bulkyard.web import services


@shared_task(name="bulkyard.web.tasks.purge_pending_uploads")
def purge_pending_uploads() -> int:
    """Delete the files the new-job form kept and nobody came back for."""
    return services.pending_uploads_purge()
