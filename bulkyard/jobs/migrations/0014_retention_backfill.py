"""Retention (decision 0018) for the jobs that exist: the server's
BULKYARD_RETENTION_DAYS, read now (0 leaves them kept forever), and for
finished jobs their expiry, counted from their end.

In batches of BATCH jobs along the primary key, each batch its own transaction
(the migration is not atomic): one UPDATE of a million finished jobs took
minutes, every index of the table gaining a row for each, and a transaction
that long holds back the vacuuming of the chunk and result tables meanwhile.
Only what is still empty is filled, so a migration stopped half-way is run
again from the start and finishes.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import migrations, transaction
from django.db.models import F
from django.db.models.functions import Coalesce

FINISHED = ["succeeded", "completed_with_errors", "failed", "cancelled"]
BATCH = 5000


def _retention_of_existing_jobs(apps: Any, schema_editor: Any) -> None:
    days = settings.BULKYARD_RETENTION_DAYS
    if not days:
        return
    jobs = apps.get_model("bulkyard_jobs", "Job").objects
    after = None
    while True:
        page = jobs.order_by("pk") if after is None else jobs.filter(pk__gt=after).order_by("pk")
        ids = list(page.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        batch = jobs.filter(pk__gte=ids[0], pk__lte=ids[-1])
        with transaction.atomic():
            batch.filter(status__in=FINISHED, expires_at__isnull=True).update(
                retention_days=days,
                expires_at=Coalesce(F("finished_at"), F("created_at")) + timedelta(days=days),
            )
            batch.exclude(status__in=FINISHED).filter(retention_days__isnull=True).update(
                retention_days=days
            )
        after = ids[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bulkyard_jobs", "0013_retention"),
    ]

    operations = [
        migrations.RunPython(_retention_of_existing_jobs, migrations.RunPython.noop),
    ]
