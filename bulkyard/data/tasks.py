"""Celery entry points of the data app: thin wrappers over ``services``."""

from celery import shared_task

from bulkyard.data import services


@shared_task(name="bulkyard.data.tasks.clear_import_ledger")
def clear_import_ledger(job_id: str) -> int:
    return services.import_ledger_clear(job_id=job_id)
